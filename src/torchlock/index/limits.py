"""The defaults of the network limits, in one place (plain numbers: the CLI's option
defaults read them without importing the index client)."""

CONNECT_TIMEOUT = 10.0  # seconds to a connection
READ_TIMEOUT = 30.0  # seconds of silence while an answer is read (solve --timeout)
RETRIES = 3  # tries of a failed request after the first (--retries)
REQUEST_DEADLINE = 120.0  # a page or metadata file, read whole (--request-deadline)
SOLVE_DEADLINE = 3600.0  # all of one solve's requests (--solve-deadline)
MAX_PAGE_BYTES = 64 << 20  # a page or metadata file, decompressed (--max-page-size)
