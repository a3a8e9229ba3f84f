\set s random(1, 300)
\startpipeline
BEGIN;
SELECT s."id", s."learner_id", s."enrolment_id", s."lesson_id", s."progress_id", s."state", s."started_at", s."last_accepted_at", s."last_seq", s."last_position", s."last_clean_playing", s."time_carry", s."credited_seconds", s."face_due_at", s."face_failures", s."face_passed_at", s."ended_at", s."ip", s."user_agent", s."auth_session_id", s."key_digest", p."id", p."enrolment_id", p."lesson_id", p."last_position", p."furthest_position", p."watched", p."credited_seconds", p."cancelled_seconds", p."completed_at", e."id", e."learner_id", e."programme_id", e."deadline", e."status", a."last_seen_at", a."ended_at", a."face_verified_at", u."must_change_password", u."password_changed_at", u."is_active", (SELECT c."number" FROM "catalog_catalogueversion" c WHERE c."id" = 1), COALESCE((SELECT SUM(d."seconds") FROM "learning_dailycredit" d WHERE d."learner_id" = s."learner_id" AND d."day" = current_date), 0) FROM "learning_studysession" s JOIN "learning_lessonprogress" p ON p."id" = s."progress_id" JOIN "learning_enrolment" e ON e."id" = s."enrolment_id" JOIN "accounts_authsession" a ON a."id" = s."auth_session_id" JOIN "accounts_user" u ON u."id" = a."user_id" AND u."id" = s."learner_id" WHERE s."id" = :s AND s."key_digest" = 'k' AND s."key_digest" <> '' FOR UPDATE OF s, p;
\endpipeline
\startpipeline
SET LOCAL synchronous_commit TO OFF;
INSERT INTO "learning_dailycredit" ("learner_id", "enrolment_id", "day", "seconds", "cancelled_seconds") VALUES (:s, :s, current_date, 2.0, 0.0) ON CONFLICT ("learner_id", "enrolment_id", "day") DO UPDATE SET "seconds" = "learning_dailycredit"."seconds" + excluded."seconds";
UPDATE "learning_lessonprogress" SET "last_position" = 2.0, "furthest_position" = 2.0, "watched" = '[[0.0, 2.0]]'::jsonb, "credited_seconds" = 2.0, "completed_at" = NULL, "updated_at" = now() WHERE "id" = :s;
UPDATE "learning_studysession" SET "last_seq" = 1, "last_accepted_at" = now(), "last_position" = 2.0, "credited_seconds" = 2.0, "last_clean_playing" = true, "time_carry" = 2.6 WHERE "id" = :s;
INSERT INTO "learning_studyrecord" ("at", "learner_id", "enrolment_id", "lesson_id", "session_id", "kind", "seq", "position", "credited_seconds", "accepted", "reasons", "ip", "user_agent") VALUES (now(), :s, :s, 1, :s, 'heartbeat', 1, 2.0, 2.0, true, '[]'::jsonb, '127.0.0.1', 'bench');
COMMIT;
\endpipeline
