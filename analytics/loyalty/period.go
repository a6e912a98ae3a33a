package loyalty

// PeriodStart returns the first day of the period (PeriodDay, PeriodWeek:
// Monday, PeriodMonth: the 1st; anything else is a month) that holds day, as
// the KPI report groups days.
func PeriodStart(period string, day int32) int32 { return periodStart(period, day) }
