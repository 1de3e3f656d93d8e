"""The CourseHub course service: courses, accounts, roles and the LMS pages and JSON API."""
