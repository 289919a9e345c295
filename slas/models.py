# SLA agreements, working calendars, deadlines and breaches arrive with the SLA issue.
