"""Notifications: what the platform tells a user (in the app, by e-mail), and how.

Services send signals (app.signals); `listeners` turns them into Notification documents for
the people concerned, `services` reads and marks them and keeps each user's preferences,
`mail` renders the e-mails (never any health data), `delivery` sends the queued e-mails
through SMTP with retries, `digest` groups a day's notices, `worker` is what
`parcours worker` runs each round.
"""
