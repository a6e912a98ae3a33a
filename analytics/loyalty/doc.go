// Package loyalty turns the sales HQ holds into the loyalty reports of issue
// 20: each card's purchase cadence and whether the customer is late on it,
// the overdue list for reminders, a loyalty indicator with segments, the
// programme's KPIs per period and store, and NPS.
//
// A Book holds every card's purchase days (one record per day and store),
// added sale by sale in any order; Analyze reads it as of a day with a
// customer-base model from analytics/clv (FitModel); the reports are built
// from the Analysis. Everything here is pure: no I/O, no clock (the day is a
// parameter), no randomness. docs/analytics.md has the definitions and a
// worked example computed by hand.
package loyalty
