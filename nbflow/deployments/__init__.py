"""Deployments: notebooks as scheduled, parameterised runs through papermill.

``definition`` (the ``Deployment`` record, validated by ``build``), ``service`` (the verbs:
``deploy``, ``trigger``, ...), ``parameters`` (the notebook's parameters cell), ``schedule``
(cron and intervals), ``runs`` (one run, start to end) and ``execute`` (papermill).
"""
