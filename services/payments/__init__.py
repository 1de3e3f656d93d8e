"""Paid courses: checkout through a payment provider (Stripe Checkout), enrolment from the
provider's webhook, refunds, prices in several currencies, receipts, purchase history and
sales.

The provider is behind one small interface (``provider.PaymentProvider``); only
``stripe_provider`` knows Stripe. Enrolment itself stays in ``courses.enrollment``.
"""
