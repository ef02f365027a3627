"""The training job runner: a job store, a scheduler that runs each job in its own worker process, the worker,
the evaluation report and the gated deploy.

    SubmitJob ──▶ store (state queued) ──▶ scheduler (one job per device) ──▶ ``python -m training.jobs.worker``
                                                    │                          prepare data → train (checkpoint
                                                    │                          per epoch) → evaluate beside the
                                                    │                          serving version → report.html →
                                                    │                          gate → register → load + traffic
                                                    └─ reaps the worker: killed mid-way → ``interrupted``;
                                                       ResumeJob (or a service restart) continues from the
                                                       last checkpoint.

Progress, log lines and state changes are rows in ``training_job_events``: the worker writes them, WatchJob
reads them, so a watcher needs no connection to the worker.
"""
