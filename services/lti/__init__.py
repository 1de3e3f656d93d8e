"""LTI 1.3 Advantage, the tool side: CourseHub inside a university's LMS.

``platforms`` keeps the LMSs an administrator registered, ``tool_keys`` CourseHub's own
signing keys and their published JWKS (rotation keeps the old key published for a while),
``launch`` validates OIDC logins and launches with ``pylti1p3`` through the small Tornado
adapters in ``pylti1p3_adapters``, and ``launch_people`` turns a validated launch into a
CourseHub person: found or created by the platform's ``sub``, given the role the LTI roles
map to, enrolled, and signed in to the hub with a sign-in ticket.
"""
