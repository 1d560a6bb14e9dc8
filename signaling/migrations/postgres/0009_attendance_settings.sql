-- What a room records of who came ('off' or 'attendance'), and what it counts as late and as
-- absent (minutes after the start; the least share of the meeting present, in percent).
ALTER TABLE rooms ADD COLUMN attendance_mode TEXT NOT NULL DEFAULT 'attendance';
ALTER TABLE rooms ADD COLUMN late_after_minutes BIGINT NOT NULL DEFAULT 5;
ALTER TABLE rooms ADD COLUMN min_present_percent BIGINT NOT NULL DEFAULT 25;
