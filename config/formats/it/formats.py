# Italian formats, on top of Django's (django/conf/locale/it/formats.py): dates as an Italian office
# writes them on screen, 25/12/2026 and 25/12/2026 14:30, rather than "venerdì 25 dicembre 2026".
DATE_FORMAT = "d/m/Y"
DATETIME_FORMAT = "d/m/Y H:i"
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
MONTH_DAY_FORMAT = "j F"
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "."
NUMBER_GROUPING = 3
