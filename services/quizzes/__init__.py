"""Quizzes: the question bank, quizzes, attempts, scoring, grading by hand and item analysis."""
