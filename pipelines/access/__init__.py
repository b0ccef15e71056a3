"""Who may read a unit's schema, and how: sessions as a unit, analysts' logins, permission applications.

sessions.py opens a connection as a login that is a member of exactly one unit role (forms and
`huiliu sql` read through it); errors.py holds the one refusal the command line turns into exit 1.
"""
