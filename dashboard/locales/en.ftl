# Mesure dashboard, English. Every key here is in fr.ftl too (a test checks).

app-name = Mesure
skip-to-content = Skip to content
language = Language
nav-sites = Sites
nav-overview = Overview
no-script-note = Charts need JavaScript; every figure is also in the tables.

sites-title = Sites
sites-empty = No site is registered yet. Add one with “mesure site put”.
sites-trend = Trend
sites-trend-label = Visitors per { $bucket }, { $from } to { $to }: from { $low } to { $high }
sites-organisation-total = Organisation total ({ $count ->
    [one] one site
   *[other] { $count } sites
})
sites-organisation-note = Visits and page views add up across sites; visitors do not: each site has its own one-day ids.
sites-no-organisation = Sites without an organisation
sites-open = Open the overview of { $site }

period = Period
period-day = Today
period-yesterday = Yesterday
period-7d = Last 7 days
period-30d = Last 30 days
period-month = This month
period-last-month = Last month
period-6mo = Last 6 months
period-12mo = Last 12 months
period-custom = Custom range
period-from = From
period-to = To
period-apply = Show
period-range = { $from } to { $to }

compare = Comparison
compare-off = No comparison
compare-previous = Previous period
compare-year = Year before
compare-against = against { $from } to { $to }
change-up = up { $change }
change-down = down { $change }
change-same = unchanged
change-new = new

filters = Filters
filter-remove = Remove the filter { $filter }
filter-clear = Remove every filter
filter-by = Show only { $value }
filter-is = { $dimension } is { $value }
filter-is-not = { $dimension } is not { $value }
filter-contains = { $dimension } contains { $value }
filter-does-not-contain = { $dimension } does not contain { $value }

headline = Key figures
chart = Over time
chart-metric = Metric shown
chart-table = { $metric } per { $bucket }
bucket-time-hour = hour
bucket-time-day = day
bucket-time-week = week
bucket-time-month = month
chart-date = Date
chart-now = This period
chart-then = Comparison period
annotations = Notes
annotations-none = No note in this period. A note marks a date on the chart: a campaign, a launch.
annotation-add = Add a note
annotation-date = Date
annotation-text = Note
annotation-example = Radio campaign
annotation-save = Save the note
annotation-remove = Remove the note “{ $text }”
annotation-remove-short = Remove
annotation-error-text = A note must have 1 to 200 characters, on one line.
annotation-error-date = A note's date must be written YYYY-MM-DD and be within 800 days of today.
annotation-error-full = This site already has 1,000 notes: remove some before adding more.
annotation-error-unknown = This note does not exist, or was already removed.

panel-pages = Pages
panel-sources = Sources
panel-locations = Locations
panel-devices = Devices
panel-goals = Goals
panel-events = Custom events
panel-outbound = Outbound links
panel-downloads = Downloads
map-label = Map of visitors by country; the table holds the figures.
panel-empty = Nothing in this period.
panel-hidden = { $rows ->
    [one] One row below { $threshold } visitors is hidden.
   *[other] { $rows } rows below { $threshold } visitors are hidden.
}
panel-details = Details
panel-csv = Download as CSV
panel-share = Share

details-search = Search
details-sort = Sort by
details-rows = { $rows ->
    [one] One row
   *[other] { $rows } rows
}
details-back = Back to the overview

tab-top = Top pages
tab-entry = Entry pages
tab-exit = Exit pages
tab-channel = Channels
tab-source = Sources
tab-referrer = Referrers
tab-country = Countries
tab-region = Regions
tab-city = Cities
tab-browser = Browsers
tab-os = Operating systems
tab-device = Devices
tab-versions = With versions

metric-visitors = Visitors
metric-visits = Visits
metric-pageviews = Pageviews
metric-views-per-visit = Views per visit
metric-bounce-rate = Bounce rate
metric-visit-duration = Visit duration
metric-events = Events
metric-percentage = Share
metric-conversion-rate = Conversion rate

dim-event-page = Page
dim-event-hostname = Hostname
dim-event-name = Event
dim-event-outbound-link = Outbound link
dim-event-file-download = Download
dim-event-goal = Goal
dim-visit-entry-page = Entry page
dim-visit-exit-page = Exit page
dim-visit-source = Source
dim-visit-referrer = Referrer
dim-visit-channel = Channel
dim-visit-country = Country
dim-visit-region-name = Region
dim-visit-city-name = City
dim-visit-browser = Browser
dim-visit-browser-version = Browser version
dim-visit-os = Operating system
dim-visit-os-version = OS version
dim-visit-device = Device
dim-visit-utm-source = Campaign source
dim-visit-utm-medium = Campaign medium
dim-visit-utm-campaign = Campaign
dim-visit-utm-content = Campaign content
dim-visit-utm-term = Campaign term

value-none = (none)
value-direct = Direct / none
small-count = < { $threshold }

error-title = This page cannot be shown
error-back = Back to the sites
error-not-found = There is no such site or page.
error-sign-in = Sign in to see this page.
error-not-admin = Only this site's administrators can do that.
sign-in-title = Sign in
sign-in-intro = Sign in to see the statistics of the sites you have access to.
sign-in-email = E-mail address
sign-in-password = Password
sign-in-submit = Sign in
sign-in-failed = Wrong address or password.
sign-in-limited = Too many sign-in attempts. Try again in { $minutes } minutes.
link-title = Shared link
link-password-intro = This link to statistics needs a password.
link-open = Open
link-password-wrong = Wrong password.
sign-out = Sign out
signed-in-as = Signed in: { $email }
error-bad-view = This link holds a setting the dashboard does not know: { $reason }
error-unavailable = The figures cannot be read right now. Try again in a moment.
error-cross-origin = This form did not come from a page of this dashboard: nothing was saved.

mode-exempt = Consent-exempt measurement: counts under { $threshold } are hidden.
mode-consent = Consent mode: campaigns are measured.
source-note = Answered from { $source }.

realtime = Realtime
realtime-title = { $site } – realtime
realtime-5m = Visitors in the last 5 minutes
realtime-30m = Visitors in the last 30 minutes
realtime-pages = Pages read in the last 30 minutes
realtime-sources = Sources in the last 30 minutes
realtime-rounded = Counts are rounded to the nearest 10: nobody can watch one person browse.
realtime-refresh = Refresh
realtime-live = Refreshed every 10 seconds.

audit-title = Audit log
audit-intro = Who signed in, changed a setting, made or used a token or a shared link, or exported figures: when, on which site, from which network (addresses truncated).
audit-site = Site
audit-all = All
audit-action = Action
audit-show = Show
audit-csv = Download as CSV
audit-empty = Nothing was recorded in this period.
audit-caption = { $count ->
    [one] One entry, newest first
   *[other] { $count } entries, newest first
}
audit-when = When (UTC)
audit-who = Who
audit-address = Network
audit-detail = Detail
audit-more = Only the newest { $count } entries are shown: narrow the period, or download the CSV.
audit-kept = Entries are kept 12 months. Times are in UTC.
audit-sign-in = Signed in
audit-sign-in-refused = Sign-in refused
audit-sign-out = Signed out
audit-site-added = Site added
audit-site-changed = Settings changed
audit-mode-changed = Mode changed
audit-site-removed = Site removed
audit-goal-saved = Goal saved
audit-goal-removed = Goal removed
audit-note-added = Note added
audit-note-removed = Note removed
audit-token-created = API token made
audit-token-revoked = API token revoked
audit-token-used = API token used
audit-link-created = Shared link made
audit-link-revoked = Shared link revoked
audit-link-used = Shared link opened
audit-export = Export
audit-user-added = Account added
audit-user-changed = Account changed
audit-role-granted = Role given
audit-role-revoked = Role taken away
audit-invited = Invitation made
audit-invitation-accepted = Invitation accepted
nav-audit = Audit log
error-not-superuser = Only the instance's superusers can do that.
nav-settings = Settings
nav-new-site = Add a site
settings-title = { $site } – settings
settings-new-title = Add a site
settings-back = Back to the statistics
settings-saved = Saved. Collectors apply the change within their reload interval (10 seconds by default).
settings-id = Site id
settings-id-help = Lowercase letters, digits, “-”, “_” or “.”; it cannot change afterwards.
settings-hosts = Hosts
settings-hosts-help = One per line: the hosts whose pages send hits. “*.example.fr” also matches its subdomains.
settings-mode = Mode
settings-mode-exempt = Consent-exempt (recommended): no campaign parameters, a short list of events without properties; no consent banner needed.
settings-mode-consent = Consent: the site asks its visitors' consent itself; campaigns and event properties are kept.
settings-time-zone = Time zone of the reports
settings-params = Query parameters kept in page addresses
settings-params-help = One per line. Every other parameter is removed before anything is stored; campaign parameters (utm_…) need the consent mode.
settings-events = Custom events accepted
settings-events-help = One name per line. In consent-exempt mode only these are accepted (30 at most).
settings-city = Record the city (otherwise country and region only)
settings-matomo = Matomo site id
settings-matomo-help = The idsite your Matomo trackers send for this site, if any.
settings-organisation = Organisation
settings-organisation-help = Only a superuser moves a site to another organisation.
settings-save = Save the settings
settings-add = Add the site
site-error-id = “{ $value }” cannot be a site id: use 1 to 64 lowercase letters, digits, “-”, “_” or “.”.
site-error-exists = A site “{ $value }” already exists.
site-error-no-host = A site needs at least one host.
site-error-host = “{ $value }” is not a host: write it like example.fr or *.example.fr, without scheme or port.
site-error-param = “{ $value }” cannot be a query parameter.
site-error-campaign = “{ $value }” identifies campaigns: it can be kept in consent mode only.
site-error-event = “{ $value }” cannot be an event name: 1 to 64 printable characters.
site-error-events = A consent-exempt site accepts at most 30 event names.
site-error-organisation = “{ $value }” cannot be an organisation name: at most 120 printable characters.
site-error-time-zone = “{ $value }” is not a known time zone.
site-error-matomo = “{ $value }” is not a Matomo site id: a whole number from 0 to 4294967295.
site-error-entries = A list holds at most { $value } entries.
goals-title = Goals
goals-none = No goal yet. A goal counts the visits that reach a page or send an event.
goal-name = Name
goal-target = Page or event
goal-is-page = page { $target }
goal-is-event = event { $target }
goal-remove = Remove the goal “{ $name }”
goal-remove-short = Remove
goal-add = Add a goal
goal-kind = The goal is reached by
goal-kind-page = a page view: a path, “*” within a segment, “**” across segments
goal-kind-event = a custom event: its name
goal-save = Save the goal
goal-error-name = “{ $value }” cannot be a goal name: 1 to 120 printable characters.
goal-error-page = “{ $value }” is not a page pattern: a path starting with “/”.
goal-error-event = “{ $value }” cannot be an event name: 1 to 120 printable characters.
goal-error-target = Give a page pattern or an event name.
goal-error-full = A site has at most { $value } goals.
goal-error-unknown = This goal does not exist, or was already removed.
