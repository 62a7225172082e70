-- After v1: rows that every later step must keep.
INSERT INTO customers (name, email, legacy_code) VALUES ('Ana', 'ana@example.com', 'L-1'), ('Ivo', NULL, NULL);
INSERT INTO orders (customer_id, amount, note) SELECT id, 12.50, 'first' FROM customers WHERE name = 'Ana';
