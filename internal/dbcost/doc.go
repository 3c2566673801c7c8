// Package dbcost measures what a delivery path costs the PostgreSQL server,
// so that cdcbench can test the claim the whole CDC architecture rests on:
// reading the WAL through a logical slot loads the database less than agents
// polling the transactions table. A Sampler reads the server's own counters
// at the two ends of a measured window — statements, commits, tuples and
// blocks from pg_stat_database, scans and rows read of public.transactions
// from pg_stat_user_tables, calls, rows and execution time from
// pg_stat_statements per statement and split into the agents' reads
// (SELECT), the producer's writes (INSERT/COPY) and everything else, WAL generated, how far cdcbench's
// replication slots and their WAL senders lag (and the command each sender
// runs), and the CPU seconds of every
// server process from /proc — and Diff turns the two samples into a Cost per
// 1,000 card transactions. The producer's writes are the same on both paths,
// so the difference between the paths' costs is the price of delivery:
// polling shows up as statements, rows read and backend CPU that grow with
// agents × polls whether or not new rows arrived, CDC as WAL sender CPU and
// slot lag that grow only with the rows written. The sampler's own queries
// are kept out of every figure (its transactions and CPU are subtracted, its
// statements never match, it reads no table of the measured database).
// Figures the server
// cannot give (pg_stat_statements not loaded, CPU of a server on another
// host) are absent (nil), never zero.
package dbcost
