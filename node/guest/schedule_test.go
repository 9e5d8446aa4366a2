package guest

import (
	"strings"
	"testing"
	"time"
)

// at returns a time in loc of the week of Monday 2026-03-02: day is the
// weekday, hhmm "18:30".
func at(loc *time.Location, day time.Weekday, hhmm string) time.Time {
	c, err := time.Parse("15:04", hhmm)
	if err != nil {
		panic(err)
	}
	offset := (int(day) + 6) % 7 // days since Monday
	return time.Date(2026, 3, 2+offset, c.Hour(), c.Minute(), 0, 0, loc)
}

func TestScheduleOpen(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	type probe struct {
		day  time.Weekday
		hhmm string
		open bool
	}
	for _, tc := range []struct {
		schedule string
		probes   []probe
	}{
		{"mon-fri 18:00-08:00, sat-sun", []probe{
			{time.Monday, "07:59", true}, // Sunday night runs on into Monday morning
			{time.Monday, "08:00", false},
			{time.Monday, "12:00", false},
			{time.Monday, "17:59", false},
			{time.Monday, "18:00", true},
			{time.Wednesday, "23:59", true},
			{time.Thursday, "00:00", true},
			{time.Thursday, "03:00", true},
			{time.Friday, "08:00", false},
			{time.Friday, "18:00", true},
			{time.Saturday, "00:00", true},
			{time.Saturday, "12:00", true},
			{time.Sunday, "23:59", true},
		}},
		{"mon-fri 18:00-08:00", []probe{
			{time.Saturday, "03:00", false}, // the days name the day of the moment
			{time.Monday, "03:00", true},
			{time.Friday, "20:00", true},
		}},
		{"22:00-06:00", []probe{
			{time.Tuesday, "22:00", true},
			{time.Tuesday, "05:59", true},
			{time.Tuesday, "06:00", false},
			{time.Sunday, "21:59", false},
		}},
		{"fri-mon", []probe{ // a day range across the weekend
			{time.Friday, "00:00", true},
			{time.Sunday, "12:00", true},
			{time.Monday, "23:59", true},
			{time.Tuesday, "00:00", false},
			{time.Thursday, "23:59", false},
		}},
		{"mon wed fri 12:00-14:00, tue 00:00-24:00", []probe{
			{time.Monday, "12:00", true},
			{time.Monday, "14:00", false},
			{time.Wednesday, "13:59", true},
			{time.Thursday, "13:00", false},
			{time.Tuesday, "23:59", true},
			{time.Tuesday, "00:00", true},
		}},
		{"Saturday 9:00-17:30", []probe{
			{time.Saturday, "09:00", true},
			{time.Saturday, "17:29", true},
			{time.Saturday, "17:30", false},
			{time.Saturday, "08:59", false},
		}},
	} {
		t.Run(tc.schedule, func(t *testing.T) {
			sc, err := ParseSchedule(tc.schedule)
			if err != nil {
				t.Fatal(err)
			}
			for _, loc := range []*time.Location{time.UTC, paris} {
				for _, p := range tc.probes {
					when := at(loc, p.day, p.hhmm)
					if got := sc.Open(when); got != p.open {
						t.Errorf("%s: Open(%s) = %v, want %v", loc, when.Format("Mon 15:04"), got, p.open)
					}
				}
			}
		})
	}
}

// TestScheduleLocalTime: a schedule reads each moment in its own location,
// so the same instant is inside in one zone and outside in another.
func TestScheduleLocalTime(t *testing.T) {
	sc, err := ParseSchedule("mon-fri 18:00-08:00")
	if err != nil {
		t.Fatal(err)
	}
	instant := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC) // Wednesday noon UTC
	tokyo := time.FixedZone("JST", 9*3600)                  // 21:00 there
	if sc.Open(instant) {
		t.Error("open at noon UTC")
	}
	if !sc.Open(instant.In(tokyo)) {
		t.Error("closed at 21:00 in Tokyo, the same instant")
	}
	// Across a daylight saving change the wall clock decides: Paris moves
	// from 02:00 to 03:00 on 2026-03-29 (a Sunday).
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	sc, _ = ParseSchedule("sun 02:30-04:00")
	if !sc.Open(time.Date(2026, 3, 29, 3, 30, 0, 0, paris)) {
		t.Error("closed at 03:30 on the day clocks go forward")
	}
}

func TestScheduleZeroIsAlwaysOpen(t *testing.T) {
	var sc Schedule
	for d := range 7 {
		if !sc.Open(at(time.UTC, time.Weekday(d), "03:00")) {
			t.Fatalf("the zero schedule is closed on %v", time.Weekday(d))
		}
	}
	if sc.String() != "" {
		t.Errorf("String() = %q", sc.String())
	}
}

func TestParseScheduleErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty schedule"},
		{"  ", "empty schedule"},
		{"mon-fri 18:00-08:00, sat-sn", `window 2 "sat-sn": unknown day "sn" (want mon`},
		{"mon,,tue", `window 2 "": empty window`},
		{"mon,", `window 2 "": empty window`},
		{"mon-", "a day on each side"},
		{"-fri", "a day on each side"},
		{"mon 8-9", `time "8": want HH:MM`},
		{"mon 08:00", `time range "08:00": want HH:MM-HH:MM`},
		{"mon 8:00-9", `time "9": want HH:MM`},
		{"mon 25:00-26:00", `time "25:00": want 00:00 to 23:59, or 24:00`},
		{"mon 10:60-11:00", `time "10:60"`},
		{"mon 24:00-08:00", "24:00 can only end a range"},
		{"mon 24:01-08:00", `time "24:01"`},
		{"mon 08:00-08:00", "is empty"},
		{"mon 08:00-09:00 10:00-11:00", "two time ranges"},
		{"08:00-09:00 mon", `day "mon" after the time range`},
		{"mon 0x:00-09:00", `time "0x:00"`},
		{"mon 123:00-09:00", `time "123:00"`},
		{"mon +1:00-09:00", `time "+1:00"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseSchedule(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseSchedule(%q) = %v, want an error containing %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestScheduleString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"mon-fri 18:00-08:00, sat-sun", "mon-fri 18:00-08:00, sat-sun"},
		{"MONDAY TUESDAY wed thu fri", "mon-fri"},
		{"fri-mon", "mon fri-sun"},
		{"sun-sat 9:00-17:00", "09:00-17:00"},
		{"tue 00:00-24:00", "tue"},
		{"sat sun mon", "mon sat-sun"},
	} {
		sc, err := ParseSchedule(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := sc.String(); got != tc.want {
			t.Errorf("ParseSchedule(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzParseSchedule: no input panics, and whatever parses prints as a
// schedule that parses back to the same hours, minute by minute of a week.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"mon-fri 18:00-08:00, sat-sun", "22:00-06:00", "fri-mon", "mon wed 9:00-24:00", "sat-sn", ",", "mon 24:00-1:00", "sunday 0:00-0:01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseSchedule(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		again, err := ParseSchedule(sc.String())
		if err != nil {
			if len(sc.windows) == 0 || sc.String() == "" {
				return
			}
			t.Fatalf("%q printed as %q, which does not parse: %v", s, sc.String(), err)
		}
		start := at(time.UTC, time.Monday, "00:00")
		for m := 0; m < 7*dayMinutes; m += 7 {
			when := start.Add(time.Duration(m) * time.Minute)
			if sc.Open(when) != again.Open(when) {
				t.Fatalf("%q and its print %q disagree at %s", s, sc.String(), when.Format("Mon 15:04"))
			}
		}
	})
}
