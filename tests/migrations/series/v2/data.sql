-- After v2: the renamed table and column kept their rows and values.
DO $$ BEGIN
  IF (SELECT count(*) FROM clients WHERE full_name = 'Ana' AND legacy_code = 'L-1') <> 1 THEN RAISE EXCEPTION 'renamed table/column lost data'; END IF;
  IF (SELECT note FROM orders WHERE amount = 12.50) <> 'first' THEN RAISE EXCEPTION 'orders lost data'; END IF;
  IF (SELECT archive IS NULL FROM c_status WHERE id = 2) THEN RAISE EXCEPTION 'deprecated value not archived'; END IF;
  IF (SELECT count(*) FROM c_status WHERE id = 3) <> 1 THEN RAISE EXCEPTION 'new enum value not seeded'; END IF;
END $$;
INSERT INTO orders (customer_id, amount, note) SELECT id, 7, 'second' FROM clients WHERE full_name = 'Ivo';
INSERT INTO order_lines (order_id, line_no) SELECT id, 1 FROM orders;
INSERT INTO line_notes (order_id, line_no, text) SELECT order_id, line_no, 'n' FROM order_lines;
