-- Optional e-mail addresses for notifications: a firm's (given at registration) and a
-- complainant's (given with the complaint). Never shown publicly; NULL means "do not mail".
ALTER TABLE firms ADD COLUMN contact_email TEXT;
ALTER TABLE complaints ADD COLUMN contact_email TEXT;
