"""The LMS admin area: course review, people (search, a person's page, suspension, CSV
import, bulk enrolment), reports and the pages of the audit log and site settings."""
