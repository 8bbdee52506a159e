DROP TABLE listing_popularity;
DROP TABLE search_settings;
