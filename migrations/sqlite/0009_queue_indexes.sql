-- The review queue and its counts read every task of a district and department. With the
-- task's id, round and case in the index (and the id ordering ties of created_at), the queue's
-- page is read in order from the index and stops after one page, and neither query visits the
-- task rows; the case's status and round come from a small index instead of the applications'
-- rows, which hold the whole form.
DROP INDEX review_tracks_queue;
CREATE INDEX review_tracks_queue ON review_tracks (district, department, status, created_at, id, round, application_id);
CREATE INDEX applications_review_state ON applications (id, status, round);
