-- A staff account an admin has disabled: it cannot sign in and its sessions were ended when it
-- was disabled. NULL while the account is in use; the time (Unix ms) it was disabled otherwise.
ALTER TABLE staff ADD COLUMN disabled_at BIGINT;
