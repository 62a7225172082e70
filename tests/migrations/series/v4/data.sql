-- After v4: the renamed column kept its values; existing orders took the default channel.
DO $$ BEGIN
  IF (SELECT count(*) FROM clients WHERE display_name IN ('Ana', 'Ivo')) <> 2 THEN RAISE EXCEPTION 'renamed column lost data'; END IF;
  IF (SELECT count(*) FROM orders WHERE channel = 'web') <> 2 THEN RAISE EXCEPTION 'new column default not applied'; END IF;
END $$;
