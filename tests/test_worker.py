"""``coursehub worker`` hosts every domain's tasks (their procrastinate Blueprints) on one
App, under the names already queued jobs carry, with the scheduled ones scheduled."""

from __future__ import annotations

from coursehub.services import worker
from coursehub.services.administration import admin_reports
from coursehub.services.analytics import analytics_jobs
from coursehub.services.analytics.rollups import ANALYTICS_QUEUE, REFRESH_TASK
from coursehub.services.assessment import nbgrader_export_jobs
from coursehub.services.assessment.submissions import GRADE_TASK, GRADING_QUEUE
from coursehub.services.certificates import issuing as certificate_issuing
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.jobs.queue import make_app
from coursehub.services.lti import roster as lti_roster
from coursehub.services.lti import scores as lti_scores
from coursehub.services.notebook_runs import source_check_records
from coursehub.services.notebook_runs.run_queue import NOTEBOOK_RUNS_QUEUE
from coursehub.services.notifications import notification_jobs
from coursehub.services.notifications.notification_email import EMAIL_TASK, NOTIFICATION_QUEUE
from coursehub.services.operations import backup_jobs
from coursehub.services.privacy import exports as privacy_exports
from coursehub.services.quizzes import calculated_questions
from coursehub.services.quizzes.quiz_attempts import QUIZ_GRADE_TASK
from coursehub.services.reports import report_notebooks
from coursehub.services.variants import copy_checks


def test_every_task_is_hosted_under_its_own_name_on_its_queue():
    app = make_app("postgresql://unused")
    worker.host_every_task(app, WorkerContext(None, None))  # type: ignore[arg-type]
    builtin = {name for name, task in app.tasks.items() if task.queue == "builtin"}
    queues = {name: task.queue for name, task in app.tasks.items() if name not in builtin}
    assert queues == {
        GRADE_TASK: GRADING_QUEUE,
        QUIZ_GRADE_TASK: GRADING_QUEUE,
        calculated_questions.MAKE_VARIANTS_TASK: NOTEBOOK_RUNS_QUEUE,
        report_notebooks.RUN_REPORT_TASK: NOTEBOOK_RUNS_QUEUE,
        report_notebooks.SCHEDULED_TASK: NOTEBOOK_RUNS_QUEUE,
        source_check_records.CHECK_SOURCE_TASK: NOTEBOOK_RUNS_QUEUE,
        copy_checks.RECORD_EXPECTED_TASK: NOTEBOOK_RUNS_QUEUE,
        EMAIL_TASK: NOTIFICATION_QUEUE,
        notification_jobs.DIGEST_TASK: NOTIFICATION_QUEUE,
        notification_jobs.SCAN_TASK: NOTIFICATION_QUEUE,
        REFRESH_TASK: ANALYTICS_QUEUE,
        analytics_jobs.SCAN_TASK: ANALYTICS_QUEUE,
        certificate_issuing.RENDER_TASK: certificate_issuing.CERTIFICATE_QUEUE,
        certificate_issuing.RECHECK_TASK: certificate_issuing.CERTIFICATE_QUEUE,
        certificate_issuing.RELEASE_TASK: certificate_issuing.CERTIFICATE_QUEUE,
        backup_jobs.BACKUP_TASK: backup_jobs.OPERATIONS_QUEUE,
        privacy_exports.BUILD_TASK: privacy_exports.PRIVACY_QUEUE,
        admin_reports.EXPORT_TASK: ANALYTICS_QUEUE,
        lti_scores.SYNC_TASK: lti_scores.PASSBACK_QUEUE,
        lti_scores.POST_TASK: lti_scores.PASSBACK_QUEUE,
        lti_scores.AFTER_GRADE_TASK: lti_scores.PASSBACK_QUEUE,
        lti_scores.AFTER_RELEASE_TASK: lti_scores.PASSBACK_QUEUE,
        lti_scores.AFTER_QUIZ_TASK: lti_scores.PASSBACK_QUEUE,
        "lti_sync_every_course": lti_scores.PASSBACK_QUEUE,
        lti_roster.SYNC_TASK: lti_roster.ROSTER_QUEUE,
        nbgrader_export_jobs.EXPORT_TASK: nbgrader_export_jobs.EXPORT_QUEUE,
    }
    assert all(app.tasks[name].blueprint is app for name in queues)
    assert set(worker.WORKER_QUEUES) == set(queues.values())
    # Notebook runs (reports, calculated-question variants) never take a grading slot: the
    # worker serves their queue in a loop of its own.
    assert NOTEBOOK_RUNS_QUEUE not in worker.MAIN_QUEUES
    assert worker.NOTEBOOK_QUEUES == (NOTEBOOK_RUNS_QUEUE,)
    scheduled = {p.task.name for p in app.periodic_registry.periodic_tasks.values()}
    assert scheduled == {
        notification_jobs.DIGEST_TASK,
        notification_jobs.SCAN_TASK,
        analytics_jobs.SCAN_TASK,
        report_notebooks.SCHEDULED_TASK,
        "lti_sync_every_course",
    }
