"""The Discord door (discord.py): mentions, DMs, `/ask`, the bot's own threads and
persistent 👍/👎 buttons, all translated to and from `botcore.conversation`."""
