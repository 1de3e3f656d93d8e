"""Notifications: the rows, their kinds, email delivery, live fan-out, and each person's
preferences.
"""
