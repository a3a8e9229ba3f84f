\set s random(1, 300)
\startpipeline
BEGIN;
SELECT s."id", s."learner_id", s."enrolment_id", s."lesson_id", s."auth_session_id", s."state", s."last_seq", s."last_accepted_at", s."last_position", s."last_clean_playing", s."time_carry", s."credited_seconds", s."face_due_at", p."id", p."watched", p."furthest_position", p."credited_seconds", p."completed_at", e."status", e."deadline", l."kind", v."duration_seconds", g."class_hour_minutes", r."class_hour_minutes", r."daily_cap_class_hours", r."face_timeout_seconds", a."id", a."kind", a."ended_at", a."last_seen_at", a."face_verified_at", a."user_id", u."is_active", u."must_change_password", u."password_changed_at", COALESCE((SELECT SUM(d."seconds") FROM "learning_dailycredit" d WHERE d."learner_id" = s."learner_id" AND d."day" = current_date), 0) FROM "learning_studysession" s JOIN "learning_lessonprogress" p ON p."id" = s."progress_id" JOIN "learning_enrolment" e ON e."id" = s."enrolment_id" JOIN "catalog_lesson" l ON l."id" = s."lesson_id" LEFT JOIN "catalog_video" v ON v."id" = l."video_id" JOIN "catalog_programme" g ON g."id" = e."programme_id" JOIN "catalog_regionprofile" r ON r."id" = g."profile_id" JOIN "accounts_authsession" a ON a."id" = s."auth_session_id" JOIN "accounts_user" u ON u."id" = a."user_id" AND u."id" = s."learner_id" WHERE s."id" = :s AND a."key_digest" = 'k' || :s FOR UPDATE OF s, p;
\endpipeline
\startpipeline
SET LOCAL synchronous_commit TO OFF;
INSERT INTO "learning_dailycredit" ("learner_id", "enrolment_id", "day", "seconds", "cancelled_seconds") VALUES (:s, :s, current_date, 2.0, 0.0) ON CONFLICT ("learner_id", "enrolment_id", "day") DO UPDATE SET "seconds" = "learning_dailycredit"."seconds" + excluded."seconds";
UPDATE "learning_lessonprogress" SET "last_position" = 2.0, "furthest_position" = 2.0, "watched" = '[[0.0, 2.0]]'::jsonb, "credited_seconds" = 2.0, "completed_at" = NULL, "updated_at" = now() WHERE "id" = :s;
UPDATE "learning_studysession" SET "last_seq" = 1, "last_accepted_at" = now(), "last_position" = 2.0, "credited_seconds" = 2.0, "last_clean_playing" = true, "time_carry" = 0.32 WHERE "id" = :s;
INSERT INTO "learning_studyrecord" ("at", "learner_id", "enrolment_id", "lesson_id", "session_id", "kind", "seq", "position", "credited_seconds", "accepted", "reasons", "ip", "user_agent") VALUES (now(), :s, :s, 1, :s, 'heartbeat', 1, 2.0, 2.0, true, '[]'::jsonb, '127.0.0.1', 'bench');
COMMIT;
\endpipeline
