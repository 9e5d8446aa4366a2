package guest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is the hours a node may work, as -schedule gives them:
//
//	mon-fri 18:00-08:00, sat-sun
//
// is weekday nights and the whole weekend. A schedule is windows separated
// by commas; a window is days, a time range, or days then a time range:
//
//   - days: mon tue wed thu fri sat sun (or monday... sunday, any case),
//     each alone or as a range ("mon-fri"; "fri-mon" wraps over the
//     weekend), several separated by spaces ("mon wed fri"); no days means
//     every day;
//   - a time range: HH:MM-HH:MM in local time, from inclusive to exclusive;
//     24:00 ends a day. A range whose end comes before its start crosses
//     midnight: on each of the window's days it covers the time from the
//     start to midnight and from midnight to the end. No range means the
//     whole day.
//
// The days name the day of the moment, not the day a night began:
// "mon-fri 18:00-08:00" is open on Monday 00:00-08:00 and 18:00-24:00, ...
// on Friday 00:00-08:00 and 18:00-24:00, and closed all Saturday. That is
// what makes "mon-fri 18:00-08:00, sat-sun" run without a gap from Friday
// 18:00 to Monday 08:00. Write "fri 22:00-24:00, sat 00:00-02:00" for
// one night from Friday into Saturday.
//
// The zero Schedule is always open.
type Schedule struct {
	windows []window
}

// window is one comma-separated part of a schedule.
type window struct {
	days     [7]bool // by time.Weekday
	from, to int     // minutes of the day, [from, to); to may be 1440; from > to crosses midnight
}

const dayMinutes = 24 * 60

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

var longDayNames = [7]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// ParseSchedule parses a schedule (see Schedule). Its errors name the window
// and what was expected.
func ParseSchedule(s string) (Schedule, error) {
	if strings.TrimSpace(s) == "" {
		return Schedule{}, fmt.Errorf("empty schedule (leave -schedule out to work at any time)")
	}
	var sc Schedule
	for i, part := range strings.Split(s, ",") {
		w, err := parseWindow(part)
		if err != nil {
			return Schedule{}, fmt.Errorf("window %d %q: %w", i+1, strings.TrimSpace(part), err)
		}
		sc.windows = append(sc.windows, w)
	}
	return sc, nil
}

func parseWindow(s string) (window, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return window{}, fmt.Errorf("empty window (two commas in a row, or one at an end)")
	}
	w := window{from: 0, to: dayMinutes}
	timed, anyDay := false, false
	for _, f := range fields {
		if strings.ContainsRune(f, ':') || f[0] >= '0' && f[0] <= '9' {
			if timed {
				return window{}, fmt.Errorf("two time ranges in one window (separate windows with commas)")
			}
			from, to, err := parseRange(f)
			if err != nil {
				return window{}, err
			}
			w.from, w.to, timed = from, to, true
			continue
		}
		if timed {
			return window{}, fmt.Errorf("day %q after the time range (write the days first)", f)
		}
		first, last, isRange := strings.Cut(f, "-")
		a, err := parseDay(first)
		if err != nil {
			return window{}, err
		}
		b := a
		if isRange {
			if b, err = parseDay(last); err != nil {
				return window{}, err
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			w.days[d] = true
			if d == b {
				break
			}
		}
		anyDay = true
	}
	if !anyDay {
		w.days = [7]bool{true, true, true, true, true, true, true}
	}
	return w, nil
}

func parseDay(s string) (int, error) {
	l := strings.ToLower(s)
	for d := range 7 {
		if l == dayNames[d] || l == longDayNames[d] {
			return d, nil
		}
	}
	if s == "" {
		return 0, fmt.Errorf("a day range needs a day on each side of '-' (e.g. mon-fri)")
	}
	return 0, fmt.Errorf("unknown day %q (want mon, tue, wed, thu, fri, sat or sun)", s)
}

// parseRange parses HH:MM-HH:MM.
func parseRange(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("time range %q: want HH:MM-HH:MM", s)
	}
	if from, err = parseClock(a); err != nil {
		return 0, 0, fmt.Errorf("time range %q: %w", s, err)
	}
	if from == dayMinutes {
		return 0, 0, fmt.Errorf("time range %q: 24:00 can only end a range", s)
	}
	if to, err = parseClock(b); err != nil {
		return 0, 0, fmt.Errorf("time range %q: %w", s, err)
	}
	if from == to {
		return 0, 0, fmt.Errorf("time range %q is empty (for the whole day leave the range out)", s)
	}
	return from, to, nil
}

// parseClock parses H:MM or HH:MM, 00:00 to 24:00, into minutes.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 || !digits(h) || !digits(m) {
		return 0, fmt.Errorf("time %q: want HH:MM, e.g. 08:00", s)
	}
	hh, _ := strconv.Atoi(h) // digits only: cannot fail
	mm, _ := strconv.Atoi(m)
	if hh > 24 || mm > 59 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("time %q: want 00:00 to 23:59, or 24:00", s)
	}
	return hh*60 + mm, nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// IsZero reports whether sc is the zero Schedule, always open.
func (sc Schedule) IsZero() bool { return len(sc.windows) == 0 }

// Open reports whether the schedule lets a node work at t, read in t's own
// location (time.Now is local time).
func (sc Schedule) Open(t time.Time) bool {
	if len(sc.windows) == 0 {
		return true
	}
	day := t.Weekday()
	h, m, _ := t.Clock()
	minute := h*60 + m
	for _, w := range sc.windows {
		if !w.days[day] {
			continue
		}
		if w.from < w.to {
			if minute >= w.from && minute < w.to {
				return true
			}
		} else if minute >= w.from || minute < w.to {
			return true
		}
	}
	return false
}

// String returns the schedule in the form ParseSchedule reads, days as
// ranges where they run on ("mon-fri 18:00-08:00, sat-sun"); "" for the
// zero Schedule.
func (sc Schedule) String() string {
	parts := make([]string, len(sc.windows))
	for i, w := range sc.windows {
		var f []string
		if d := w.dayString(); d != "" {
			f = append(f, d)
		}
		if w.from != 0 || w.to != dayMinutes {
			f = append(f, clock(w.from)+"-"+clock(w.to))
		}
		parts[i] = strings.Join(f, " ")
	}
	return strings.Join(parts, ", ")
}

// dayString writes the window's days as runs from Monday on ("mon-fri",
// "sat-sun", "mon wed"), or "" for every day.
func (w window) dayString() string {
	all := true
	for _, on := range w.days {
		all = all && on
	}
	if all {
		return ""
	}
	var runs []string
	for i := 0; i < 7; {
		d := (i + 1) % 7 // Monday first
		if !w.days[d] {
			i++
			continue
		}
		j := i
		for j+1 < 7 && w.days[(j+2)%7] {
			j++
		}
		if j == i {
			runs = append(runs, dayNames[d])
		} else {
			runs = append(runs, dayNames[d]+"-"+dayNames[(j+1)%7])
		}
		i = j + 1
	}
	return strings.Join(runs, " ")
}

func clock(minutes int) string { return fmt.Sprintf("%02d:%02d", minutes/60, minutes%60) }
