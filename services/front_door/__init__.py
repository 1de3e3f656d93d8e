"""The front door: what a visitor who has no account yet sees of CourseHub.

A landing page (what CourseHub is, featured and newest courses with their pictures,
categories, a search into the catalog, sign in and create an account), ``/about``,
``/contact`` (a form that files a support request for a visitor) and ``/pricing`` (the
published paid courses and their prices). The hub sends visitors of ``/`` and ``/hub/`` to the
landing page (``coursehub.hub.landing``); signed-in people who reach it go to their dashboard.
"""
