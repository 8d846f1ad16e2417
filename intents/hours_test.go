package intents_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/attune-chat/attune/intents"
)

// parse builds a configuration from a YAML fragment placed after a minimal valid header.
func parse(t *testing.T, business, rest string) *intents.Config {
	t.Helper()
	src := "version: 1\nbusiness:\n  name: Test Bakery\n" + business + `
intents:
  - name: order_status
    examples: |
      - where is my order
      - has my order shipped
      - track my parcel
    answer: "It is on its way."
` + rest
	cfg, err := intents.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v\nsource:\n%s", err, src)
	}
	return cfg
}

func TestOpenAtAcrossZones(t *testing.T) {
	london := parse(t, `  timezone: Europe/London
  hours:
    mon-fri: "08:00-12:30, 13:30-17:30"
    sat: "09:00-14:00"
    sun: closed
`, "")
	tokyo := parse(t, `  timezone: Asia/Tokyo
  hours:
    mon: "09:00-17:00"
    tue-sun: closed
`, "")
	lateNight := parse(t, `  timezone: America/New_York
  hours:
    fri: "18:00-24:00"
`, "")
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name string
		cfg  *intents.Config
		at   string
		want bool
	}{
		// January: London is on GMT, so UTC and local agree.
		{"london winter before opening", london, "2025-01-06T07:59:00Z", false},
		{"london winter at opening", london, "2025-01-06T08:00:00Z", true},
		{"london lunch break", london, "2025-01-06T12:45:00Z", false},
		{"london after lunch", london, "2025-01-06T13:30:00Z", true},
		{"london closing minute is closed", london, "2025-01-06T17:30:00Z", false},
		// July: BST is UTC+1, so 07:30 UTC is 08:30 in London.
		{"london summer 07:30 UTC is open", london, "2025-07-07T07:30:00Z", true},
		{"london summer 16:45 UTC is closed", london, "2025-07-07T16:45:00Z", false},
		{"london sunday", london, "2025-07-06T11:00:00Z", false},
		{"london saturday", london, "2025-07-05T12:00:00Z", true},
		// The instant's own zone does not matter: 04:00 in New York is 09:00 in London (BST).
		{"instant given in another zone", london, "2025-07-07T04:00:00-04:00", true},
		// Sunday 23:30 UTC is already Monday 08:30 in Tokyo; Monday 09:30 UTC is Monday 18:30 there.
		{"tokyo sunday evening UTC is monday", tokyo, "2025-07-06T23:30:00Z", false},
		{"tokyo monday opening seen from UTC sunday", tokyo, "2025-07-07T00:00:00Z", true},
		{"tokyo monday evening", tokyo, "2025-07-07T09:30:00Z", false},
		// An interval may end at 24:00; Saturday 03:30 UTC is Friday 23:30 in New York.
		{"until midnight", lateNight, "2025-07-12T03:30:00Z", true},
		{"after midnight is saturday", lateNight, "2025-07-12T04:00:00Z", false},
		{"days without hours are closed", lateNight, "2025-07-09T18:00:00Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.OpenAt(utc(tt.at)); got != tt.want {
				t.Errorf("OpenAt(%s) in %s = %v, want %v", tt.at, tt.cfg.Location, got, tt.want)
			}
		})
	}
}

func TestScheduleOpenAtUsesGivenClock(t *testing.T) {
	var s intents.Schedule
	s[time.Wednesday] = []intents.Interval{{Start: 9 * 60, End: 17 * 60}}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	// Schedule.OpenAt reads the wall clock of t as given; Config.OpenAt converts first.
	if !s.OpenAt(time.Date(2025, 7, 9, 9, 0, 0, 0, paris)) {
		t.Error("Wednesday 09:00 wall clock should be open")
	}
	if s.OpenAt(time.Date(2025, 7, 9, 8, 59, 0, 0, paris)) {
		t.Error("Wednesday 08:59 wall clock should be closed")
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name  string
		hours string
		want  []string
	}{
		{"weekdays grouped", `
    mon-fri: "08:00-18:00"
    sat: "09:00-14:00"
    sun: closed`, []string{"Mon–Fri 08:00–18:00", "Sat 09:00–14:00", "Sun closed"}},
		{"equal days that are not consecutive stay apart", `
    mon: "08:00-18:00"
    tue: "10:00-18:00"
    wed: "08:00-18:00"`, []string{"Mon 08:00–18:00", "Tue 10:00–18:00", "Wed 08:00–18:00", "Thu–Sun closed"}},
		{"split days", `
    mon-sat: "08:00-12:00, 13:00-17:00"`, []string{"Mon–Sat 08:00–12:00, 13:00–17:00", "Sun closed"}},
		{"week that wraps past sunday", `
    fri-mon: "10:00-16:00"`, []string{"Mon 10:00–16:00", "Tue–Thu closed", "Fri–Sun 10:00–16:00"}},
		{"long day names and midnight", `
    Saturday: "00:00-24:00"
    sunday: "9:30-12:00"`, []string{"Mon–Fri closed", "Sat 00:00–24:00", "Sun 09:30–12:00"}},
		{"every day the same", `
    mon-sun: "07:00-19:00"`, []string{"Mon–Sun 07:00–19:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parse(t, "  timezone: Europe/London\n  hours:"+tt.hours+"\n", "")
			if got := cfg.Schedule.Describe(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Describe() = %q, want %q", got, tt.want)
			}
		})
	}
	var none intents.Schedule
	if got := none.Describe(); !reflect.DeepEqual(got, []string{"Mon–Sun closed"}) {
		t.Errorf("empty schedule: Describe() = %q", got)
	}
}

func TestHoursWithoutTimezoneOrHours(t *testing.T) {
	cfg := parse(t, "", "")
	if cfg.Location != time.UTC || cfg.Business.Timezone != "UTC" {
		t.Errorf("no timezone: Location = %v, Timezone = %q, want UTC", cfg.Location, cfg.Business.Timezone)
	}
	if cfg.OpenAt(time.Date(2025, 7, 7, 12, 0, 0, 0, time.UTC)) {
		t.Error("a business without hours is never open")
	}
}

func TestBadHourValues(t *testing.T) {
	tests := []struct{ value, want string }{
		{`"8-17"`, `"8" is not a time of day`},
		{`"08:00"`, `"08:00" is not a time range`},
		{`"08:00-08:00"`, `ends before it starts`},
		// A night opening is two ranges, one each side of midnight; the problem says so.
		{`"22:00-02:00"`, `"22:00-02:00" crosses midnight: a range ends on the day it starts — write "22:00-24:00" under this day and "00:00-02:00" under the next`},
		{`"24:30-25:00"`, `"24:30" is not a time of day`},
		{`"08:60-09:00"`, `"08:60" is not a time of day`},
		{`"08:0-09:00"`, `"08:0" is not a time of day`},
		{`"09:00-12:00, 11:00-13:00"`, `overlaps the previous range`},
		{`"13:00-15:00, 09:00-10:00"`, `overlaps the previous range`},
		{`open`, `"open" is not a time range`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			src := "version: 1\nbusiness:\n  name: B\n  timezone: UTC\n  hours:\n    mon: " + tt.value + "\n"
			_, err := intents.Parse("h.yaml", []byte(src))
			var ce *intents.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Parse succeeded, want a problem mentioning %s", tt.want)
			}
			if !strings.HasPrefix(err.Error(), "h.yaml:6:10: bad opening hours for mon: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want h.yaml:6:10 and %q", err, tt.want)
			}
		})
	}
}

// "Local" is accepted by time.LoadLocation as the server's own zone: the business's hours would
// then move with the machine (a container is usually on UTC), against what the docs promise.
func TestTimezoneLocalIsRefused(t *testing.T) {
	src := "version: 1\nbusiness:\n  name: B\n  timezone: Local\n  hours:\n    mon: \"08:00-17:00\"\n"
	_, err := intents.Parse("h.yaml", []byte(src))
	want := `h.yaml:4:13: time zone "Local" is the server's own zone, not the business's — use the IANA name of the business's time zone, such as Europe/London or America/New_York`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("timezone Local: got %v, want %s", err, want)
	}
}

// Hours are wall-clock hours in the business's zone on the days the clocks change too: a night
// opening split at midnight stays open across it, and the hour that repeats or is skipped does
// not shift the opening.
func TestOpenAtAcrossMidnightAndDST(t *testing.T) {
	cfg := parse(t, `  timezone: Europe/London
  hours:
    sat: "09:00-12:00, 22:00-24:00"
    sun: "00:00-02:00, 10:00-16:00"
    mon-fri: "08:00-17:30"
`, "")
	london := cfg.Location
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		// 2025-03-29/30: the clocks go forward at 01:00 GMT on Sunday (01:00 becomes 02:00 BST).
		{"saturday night before the change", time.Date(2025, 3, 29, 23, 59, 0, 0, time.UTC), true},
		{"sunday 00:30 GMT, after midnight", time.Date(2025, 3, 30, 0, 30, 0, 0, time.UTC), true},
		{"01:00 UTC is 02:00 BST: closed", time.Date(2025, 3, 30, 1, 0, 0, 0, time.UTC), false},
		{"sunday 10:00 BST is 09:00 UTC", time.Date(2025, 3, 30, 9, 0, 0, 0, time.UTC), true},
		{"sunday 09:59 BST is 08:59 UTC: closed", time.Date(2025, 3, 30, 8, 59, 0, 0, time.UTC), false},
		{"monday 08:00 BST is 07:00 UTC", time.Date(2025, 3, 31, 7, 0, 0, 0, time.UTC), true},
		// 2025-10-25/26: the clocks go back at 02:00 BST (01:00-02:00 happens twice).
		{"saturday 23:30 BST", time.Date(2025, 10, 25, 22, 30, 0, 0, time.UTC), true},
		{"first 01:30 (BST)", time.Date(2025, 10, 26, 0, 30, 0, 0, time.UTC), true},
		{"second 01:30 (GMT)", time.Date(2025, 10, 26, 1, 30, 0, 0, time.UTC), true},
		{"02:00 GMT: closed", time.Date(2025, 10, 26, 2, 0, 0, 0, time.UTC), false},
		{"monday 08:00 GMT", time.Date(2025, 10, 27, 8, 0, 0, 0, time.UTC), true},
		{"monday 07:59 GMT", time.Date(2025, 10, 27, 7, 59, 0, 0, time.UTC), false},
		{"the same instant in London's own zone", time.Date(2025, 10, 27, 8, 0, 0, 0, london), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cfg.OpenAt(tt.at); got != tt.want {
				t.Errorf("OpenAt(%s = %s in London) = %v, want %v", tt.at.UTC().Format(time.RFC3339), tt.at.In(london).Format("Mon 15:04 MST"), got, tt.want)
			}
		})
	}
	if got := cfg.Expand("{today_hours}", time.Date(2025, 3, 29, 23, 30, 0, 0, time.UTC)); got != "09:00–12:00, 22:00–24:00" {
		t.Errorf("today's hours on Saturday 23:30 = %q", got)
	}
	if got := cfg.Expand("{today_hours}", time.Date(2025, 3, 30, 23, 30, 0, 0, time.UTC)); got != "08:00–17:30" {
		t.Errorf("today's hours at 23:30 UTC on Sunday (00:30 Monday in London) = %q, want Monday's", got)
	}
}

// {hours} shows the week with en dashes ("Mon–Fri 08:00–17:30"); an owner who copies that back
// into the file, or whose editor turns "-" into "–", means the same hours.
func TestHoursWithEnDashes(t *testing.T) {
	cfg := parse(t, "  timezone: Europe/London\n  hours:\n    Mon–Fri: \"08:00–12:30, 13:30—17:30\"\n", "")
	if got := cfg.Schedule.Describe(); !reflect.DeepEqual(got, []string{"Mon–Fri 08:00–12:30, 13:30–17:30", "Sat–Sun closed"}) {
		t.Errorf("Describe() = %q", got)
	}
}

// Time zone names are case-sensitive: "europe/london" is unknown to the time zone database, and
// the problem names the spelling that is known.
func TestTimezoneCaseSuggestion(t *testing.T) {
	for zone, want := range map[string]string{
		"europe/london":    "Europe/London",
		"AMERICA/NEW_YORK": "America/New_York",
		"utc":              "UTC",
		"asia/tokyo":       "Asia/Tokyo",
	} {
		src := "version: 1\nbusiness:\n  name: B\n  timezone: " + zone + "\n"
		_, err := intents.Parse("h.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), `h.yaml:4:13: unknown time zone "`+zone+`" — did you mean "`+want+`"?`) {
			t.Errorf("timezone %s: %v, want a suggestion of %s", zone, err, want)
		}
	}
}
