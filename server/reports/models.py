# Reports are computed from the other apps' records; they keep no tables of their own.
