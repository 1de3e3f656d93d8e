"""Where CourseHub keeps personal data, and what deleting an account does with each place.

Every column that points at an account (a foreign key to ``accounts``) is listed in
``ACCOUNT_REFERENCES`` with its ``Handling``; every column that holds personal data without
pointing at an account (an address, a name, a picture, a file) is in ``PERSONAL_COLUMNS``
with what deletion does to it; columns whose names look personal but are not are in
``NOT_PERSONAL`` with the reason. ``tests/test_privacy_coverage.py`` walks the models'
metadata and fails on a column in none of them, so a new table cannot be forgotten.

Jobs in procrastinate's table name rows by id; ``JOB_ARGUMENTS`` says which argument of
which task names a row of a person (the same test reads every ``defer(...)`` in the code).
"""

from __future__ import annotations

import enum
import re

from sqlalchemy import LargeBinary, MetaData


class Handling(enum.StrEnum):
    # The rows are the person's alone (their profile, notes, sign-ins): deleted.
    DELETED = "deleted"
    # Others rely on the rows (forum posts, messages, grades for the course record, who
    # graded or wrote something): kept, pointing at the anonymised account ("Deleted user"),
    # with the old name and address replaced in every text.
    ANONYMISED = "anonymised"
    # Kept because the law requires it (accounting records of payments): the personal
    # fields are scrubbed, the amounts, dates and invoice numbers stay.
    LEGAL_RECORD = "legal_record"


D, A, L = Handling.DELETED, Handling.ANONYMISED, Handling.LEGAL_RECORD

ACCOUNT_REFERENCES: dict[str, Handling] = {
    # The person's own things.
    "profiles.account_id": D,
    "account_links.account_id": D,
    "data_exports.account_id": D,
    "password_resets.account_id": D,
    "notes.account_id": D,
    "notifications.account_id": D,
    "notification_preferences.account_id": D,
    "notification_digests.account_id": D,
    "notification_once.account_id": D,
    "email_deliveries.account_id": D,
    "forum_reads.account_id": D,
    "support_tickets.account_id": D,  # with its replies and screenshot
    "sign_ins.account_id": D,  # with the addresses they signed in from
    "suspensions.account_id": D,
    "lti_identities.account_id": D,  # the LMS's id for them (a new launch makes a new account)
    "course_graders.account_id": D,  # a grading role, not a record
    "lti_roster_members.account_id": D,  # their place on an LMS roster (LMS keeps its own)
    # What others rely on, or the course record: kept, by "Deleted user".
    "conversations.first_account_id": A,
    "conversations.second_account_id": A,
    "direct_messages.sender_id": A,
    "forum_threads.author_id": A,
    "forum_posts.author_id": A,
    "forum_reports.reporter_id": A,
    "enrollments.account_id": A,
    "lesson_progress.account_id": A,
    "submissions.account_id": A,
    "quiz_attempts.account_id": A,
    "assignment_extensions.account_id": A,
    "assignment_variants.account_id": A,
    "lti_score_posts.account_id": A,
    "analytics_students.account_id": A,
    # Kept and revoked, its name, PDF and credential removed (the row stops a new one being
    # issued to "Deleted user" when a grade of the course record changes).
    "certificates.account_id": A,
    # Who did something for others: they stay as done by "Deleted user".
    "courses.instructor_id": A,
    "announcements.author_id": A,
    "support_tickets.assignee_id": A,
    "support_replies.author_id": A,
    "uploads.owner_id": A,  # course pictures and videos; an avatar or screenshot is deleted
    "admin_report_exports.requested_by_id": A,
    "site_settings.updated_by_id": A,
    "site_images.uploaded_by_id": A,
    "suspensions.by_id": A,
    "course_graders.added_by_id": A,
    "course_review_events.by_id": A,
    "quiz_questions.created_by_id": A,
    "report_notebooks.created_by_id": A,
    "reusable_comments.created_by_id": A,
    "report_runs.requested_by_id": A,
    "assignments.created_by_id": A,
    "lesson_versions.created_by_id": A,
    "quizzes.created_by_id": A,
    "assignment_extensions.granted_by_id": A,
    "feedback_releases.released_by_id": A,
    "grading_runs.started_by_id": A,
    "notebook_checks.checked_by_id": A,
    "rubric_items.created_by_id": A,
    "archived_grades.archived_by_id": A,
    "forum_reports.resolved_by_id": A,
    "manual_scores.graded_by_id": A,
    "quiz_answers.graded_by_id": A,
    "score_overrides.set_by_id": A,
    "payments.refund_requested_by_id": A,
    # A payment is an accounting record: kept for as long as the law requires (commonly six
    # to ten years), with the payer's address scrubbed; the amount, currency, course, dates
    # and invoice number stay. Stripe keeps its own record under its own obligations.
    "payments.account_id": L,
}

# Personal data outside a foreign key: the column and what deleting the account does to it.
PERSONAL_COLUMNS: dict[str, str] = {
    "accounts.username": "replaced by deleted-<id>",
    "accounts.email": "emptied",
    "accounts.name": 'replaced by "Deleted user"',
    "accounts.password_hash": "emptied",
    "accounts.google_subject": "emptied",
    "accounts.google_email": "emptied",
    "accounts.last_login_at": "emptied",
    "login_throttles.login": "rows for the account, its address and user name deleted",
    "account_links.new_email": "deleted with the account's links",
    "sign_ins.address": "deleted with the account's sign-ins",
    "profiles.bio": "deleted with the profile",
    "profiles.pronouns": "deleted with the profile",
    "profiles.avatar_upload_id": "the picture's upload row and file deleted",
    "support_tickets.subject": "deleted with the ticket",
    "support_tickets.screenshot_upload_id": "the screenshot's upload row and file deleted",
    "support_tickets.contact_email": (
        "a visitor's reply address from the contact form, not an account's: no account "
        "deletion reaches it; kept with the visitor's ticket"
    ),
    "uploads.original_name": "the person's avatar and screenshots deleted; names scrubbed",
    "uploads.storage_name": "the files of the person's avatar and screenshots deleted",
    "data_exports.storage_name": "the export's zip deleted with the row",
    "certificates.holder_name": 'replaced by "Deleted user"',
    "certificates.pdf": "emptied (it shows the holder's name)",
    "lti_identities.subject": "deleted with the identity",
    "payments.email": "scrubbed; the payment is kept as an accounting record",
    "submissions.notebook": "kept: the graded work of the course record",
    "audit_log.actor_name": (
        "kept: the append-only record of administrative changes names people by user name "
        "only, and a trigger refuses any change to it"
    ),
}

# Columns whose names look personal but do not hold a person's data.
NOT_PERSONAL: dict[str, str] = {
    "categories.name": "a catalog category",
    "site_images.name": "a site picture's slot (logo)",
    "site_images.data": "the site's logo and pictures",
    "grade_categories.name": "a gradebook category",
    "lti_platforms.name": "an LMS",
    "lti_platforms.auth_login_url": "an LMS's address",
    "lti_platforms.auth_token_url": "an LMS's address",
    "account_links.token_sha256": "a hash of a single-use link (deleted with the link)",
    "data_exports.token_sha256": "a hash of a download link (deleted with the export)",
    "password_resets.token_sha256": "a hash of a reset link (deleted with the reset)",
    "notification_once.subject_id": "the id of the thing a notification was about",
    "notification_preferences.email": "a choice: immediately, daily or never",
    "announcements.email_requested": "a yes/no",
    "report_notebooks.with_names": "a yes/no",
    "report_runs.with_names": "a yes/no",
    "analytics_group_days.group_name": "a course's group",
    "analytics_group_items.group_name": "a course's group",
    "analytics_group_lessons.group_name": "a course's group",
    "analytics_group_test_cells.group_name": "a course's group",
    "enrollments.group_name": "a course's group",
    "lesson_files.content": "a lesson's file, written by its staff",
    "assignment_files.content": "an assignment's file, written by its staff",
    "certificates.pdf_error": "why a PDF could not be made",
    "certificate_rules.signatory_name": (
        "the course's signatory as printed on its certificates, chosen by its staff (a "
        "deleted name is scrubbed from it like from any text)"
    ),
    "certificate_rules.signature_png": (
        "the signature picture a course's staff put on its certificates: the course's "
        "design, not linked to an account; its staff replace or remove it"
    ),
}

# A column whose name matches this (or that holds bytes) must be in one of the two lists.
PERSONAL_HINT = re.compile(
    r"email|name|address|phone|avatar|screenshot|signature|subject|login|bio|pronoun|"
    r"birth|png|pdf|photo|picture|token|ip_addr|storage"
)


# Jobs: (task, argument) -> SQL selecting the ids of the person's rows that argument names
# (``:account`` is the account's id). A finished job about the person is deleted; a queued
# one about a row that is deleted is deleted too (nothing is left for it to do).
JOB_ARGUMENTS: dict[tuple[str, str], str] = {
    ("build_data_export", "export_id"): "SELECT id FROM data_exports WHERE account_id = :account",
    ("send_notification_email", "notification_id"): (
        "SELECT id FROM notifications WHERE account_id = :account"
    ),
    ("make_certificate_documents", "certificate_id"): (
        "SELECT id FROM certificates WHERE account_id = :account"
    ),
    ("grade_submission", "submission_id"): (
        "SELECT id FROM submissions WHERE account_id = :account"
    ),
    ("recheck_certificate_after_grade", "graded_submission"): (
        "SELECT id FROM submissions WHERE account_id = :account"
    ),
    ("lti_passback_after_grade", "graded_submission"): (
        "SELECT id FROM submissions WHERE account_id = :account"
    ),
    ("grade_quiz_answer", "answer_id"): (
        "SELECT a.id FROM quiz_answers a JOIN quiz_attempts t ON t.id = a.attempt_id "
        "WHERE t.account_id = :account"
    ),
    ("lti_passback_after_quiz", "scored_attempt"): (
        "SELECT id FROM quiz_attempts WHERE account_id = :account"
    ),
    ("lti_post_score", "score_post"): "SELECT id FROM lti_score_posts WHERE account_id = :account",
}
# Tasks whose rows are deleted with the account: their queued jobs go too.
JOBS_OF_DELETED_ROWS = frozenset(
    {"build_data_export", "send_notification_email", "make_certificate_documents"}
)
# Job arguments that name no person: a course, an assignment, a question, a report run...
NOT_PERSONAL_JOB_ARGUMENTS = frozenset(
    {
        "assignment_id",
        "check_id",
        "course_id",
        "export_id",  # also admin_report_export's: an administrator's report, not a person
        "passback_course",
        "question_id",
        "released_assignment",
        "roster_context",
        "run_id",
        "request_id",
        "token",  # build_nbgrader_export's: the random name of a course's export
    }
)


def handled(handling: Handling) -> list[tuple[str, str]]:
    """(table, column) of the account references with this handling."""
    return [
        (name.split(".", 1)[0], name.split(".", 1)[1])
        for name, kind in ACCOUNT_REFERENCES.items()
        if kind is handling
    ]


def unhandled(metadata: MetaData) -> list[str]:
    """What deletion does not know about, as sentences: an account reference or a personal
    looking column of ``metadata`` in none of the lists, or a listed one that is not there."""
    problems: list[str] = []
    references: set[str] = set()
    for table in metadata.sorted_tables:
        for column in table.columns:
            name = f"{table.name}.{column.name}"
            if any(key.column.table.name == "accounts" for key in column.foreign_keys):
                references.add(name)
                if name not in ACCOUNT_REFERENCES:
                    problems.append(
                        f"{name} refers to accounts: say in ACCOUNT_REFERENCES what deleting "
                        "an account does with its rows"
                    )
            elif PERSONAL_HINT.search(column.name) or isinstance(column.type, LargeBinary):
                if name not in PERSONAL_COLUMNS and name not in NOT_PERSONAL:
                    problems.append(
                        f"{name} may hold personal data: list it in PERSONAL_COLUMNS (and "
                        "handle it in deletion) or in NOT_PERSONAL with the reason"
                    )
    # Deletion deletes these rows, so each must be there (an anonymised or listed column that
    # a later change removed is harmless: nothing is done with it).
    for name, handling in ACCOUNT_REFERENCES.items():
        if handling is Handling.DELETED and name not in references:
            problems.append(f"{name} is to be deleted but refers to no account")
    return problems
