package intents

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Interval is an opening interval within one day, in minutes after midnight; End may be 24*60.
type Interval struct{ Start, End int }

// Schedule holds the opening intervals of each weekday (index time.Sunday .. time.Saturday).
type Schedule [7][]Interval

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday, "mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday, "wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday, "fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
}

// dashes turns the en and em dashes of {hours}'s own output ("Mon–Fri 08:00–17:30"), which
// owners copy back and editors substitute, into the hyphen the file format uses.
var dashes = strings.NewReplacer("–", "-", "—", "-")

// parseDays reads "mon", "monday" or a range "mon-fri" (wrapping past Sunday is allowed: "fri-mon").
func parseDays(key string) ([]time.Weekday, error) {
	key = dashes.Replace(strings.ToLower(strings.TrimSpace(key)))
	from, to, isRange := strings.Cut(key, "-")
	a, ok := dayNames[strings.TrimSpace(from)]
	if !ok {
		return nil, fmt.Errorf("%q is not a day", from)
	}
	if !isRange {
		return []time.Weekday{a}, nil
	}
	b, ok := dayNames[strings.TrimSpace(to)]
	if !ok {
		return nil, fmt.Errorf("%q is not a day", to)
	}
	var days []time.Weekday
	for d := a; ; d = (d + 1) % 7 {
		days = append(days, d)
		if d == b {
			return days, nil
		}
	}
}

// parseIntervals reads "closed" or "08:00-12:00, 13:00-18:00". An error may carry its own fix
// after " — ".
func parseIntervals(v string) ([]Interval, error) {
	v = dashes.Replace(strings.TrimSpace(strings.ToLower(v)))
	if v == "closed" {
		return nil, nil
	}
	var out []Interval
	for _, part := range strings.Split(v, ",") {
		from, to, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok {
			return nil, fmt.Errorf("%q is not a time range", strings.TrimSpace(part))
		}
		s, err := parseClock(from)
		if err != nil {
			return nil, err
		}
		e, err := parseClock(to)
		if err != nil {
			return nil, err
		}
		if e < s && s >= 15*60 && e <= 9*60 {
			// "22:00-02:00": a night opening, not a typo; say how to write it.
			return nil, fmt.Errorf("%q crosses midnight: a range ends on the day it starts — write %q under this day and %q under the next",
				strings.TrimSpace(part), clock(s)+"-24:00", "00:00-"+clock(e))
		}
		if e <= s {
			return nil, fmt.Errorf("%q ends before it starts", strings.TrimSpace(part))
		}
		if len(out) > 0 && s < out[len(out)-1].End {
			return nil, fmt.Errorf("%q overlaps the previous range", strings.TrimSpace(part))
		}
		out = append(out, Interval{s, e})
	}
	return out, nil
}

func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || len(mm) != 2 || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time of day (use 24-hour HH:MM)", s)
	}
	return h*60 + m, nil
}

// OpenAt reports whether the business is open at t (in the schedule's own time zone).
func (s *Schedule) OpenAt(t time.Time) bool {
	mins := t.Hour()*60 + t.Minute()
	for _, iv := range s[t.Weekday()] {
		if mins >= iv.Start && mins < iv.End {
			return true
		}
	}
	return false
}

// Describe renders the week compactly, grouping consecutive days with equal hours:
// "Mon–Fri 08:00–18:00", "Sat 09:00–14:00", "Sun closed".
func (s *Schedule) Describe() []string {
	order := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}
	var out []string
	for i := 0; i < len(order); {
		j := i
		for j+1 < len(order) && s.dayText(order[j+1]) == s.dayText(order[i]) {
			j++
		}
		days := short(order[i])
		if j > i {
			days += "–" + short(order[j])
		}
		out = append(out, days+" "+s.dayText(order[i]))
		i = j + 1
	}
	return out
}

// DayText renders one day's hours, e.g. "08:00–12:00, 13:00–18:00" or "closed".
func (s *Schedule) dayText(d time.Weekday) string {
	if len(s[d]) == 0 {
		return "closed"
	}
	parts := make([]string, len(s[d]))
	for i, iv := range s[d] {
		parts[i] = clock(iv.Start) + "–" + clock(iv.End)
	}
	return strings.Join(parts, ", ")
}

// Today renders the hours of t's weekday.
func (s *Schedule) Today(t time.Time) string { return s.dayText(t.Weekday()) }

func short(d time.Weekday) string { return d.String()[:3] }

func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
