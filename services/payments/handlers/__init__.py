"""Paid-course pages and endpoints."""
