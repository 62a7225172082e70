-- After v3: NULL emails took the new default; the rows are all still there.
DO $$ BEGIN
  IF (SELECT email FROM clients WHERE full_name = 'Ivo') <> '' THEN RAISE EXCEPTION 'NULL email was not backfilled'; END IF;
  IF (SELECT count(*) FROM orders) <> 2 THEN RAISE EXCEPTION 'orders lost rows'; END IF;
  IF (SELECT count(*) FROM order_lines) <> 2 THEN RAISE EXCEPTION 'order_lines lost rows'; END IF;
END $$;
