package proccost

// Same returns a PIDs function for processes found once, by a query that
// is not to be repeated during the window (pg_stat_activity would count
// as load in the database cost): it lists each of pids for as long as it
// is the process it was when Same was called, so a pid the kernel reuses
// for another process is not taken for the one that exited.
func Same(pids []int) func() []int {
	start := map[int]uint64{}
	for _, pid := range pids {
		if st, err := ReadStat(pid); err == nil {
			start[pid] = st.Start
		}
	}
	return func() []int {
		var live []int
		for pid, at := range start {
			if st, err := ReadStat(pid); err == nil && st.Start == at {
				live = append(live, pid)
			}
		}
		return live
	}
}
