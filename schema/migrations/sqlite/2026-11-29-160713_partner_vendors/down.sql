DROP TABLE partner_vendors;
