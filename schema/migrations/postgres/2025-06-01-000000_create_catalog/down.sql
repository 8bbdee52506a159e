DROP TABLE listing_changes;
DROP TABLE listing_price_history;
DROP TABLE listings;
