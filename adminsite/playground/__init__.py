"""The admin's playground: ask a question as a member, channel and tier, and see the
answer as the doors show it with the whole trace of how it was made."""
