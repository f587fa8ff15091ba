"""The Slack door (slack-bolt): HTTP Events API at /slack/events, or Socket Mode via
`manage.py runslackbot`. Only translates between Slack and `botcore.conversation`."""
