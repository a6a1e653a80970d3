#include "io/das_time.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace dasnet {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

class Cursor {
 public:
  explicit Cursor(const std::string& s) : s_(s) {}
  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  bool accept(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  // Exactly `digits` decimal digits.
  bool number(int digits, int64_t& out) {
    out = 0;
    for (int k = 0; k < digits; ++k) {
      if (!std::isdigit(static_cast<unsigned char>(peek()))) return false;
      out = out * 10 + (s_[i_++] - '0');
    }
    return true;
  }
  // ".123456789" -> nanoseconds; digits past the ninth are dropped.
  bool fraction(int64_t& ns) {
    ns = 0;
    if (peek() != '.' && peek() != ',') return true;
    ++i_;
    int count = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      if (count < 9) ns = ns * 10 + (s_[i_] - '0');
      ++count;
      ++i_;
    }
    if (count == 0) return false;
    for (int k = count; k < 9; ++k) ns *= 10;
    return true;
  }
  void skip_spaces() {
    while (peek() == ' ') ++i_;
  }
  std::string rest() const { return s_.substr(i_ < s_.size() ? i_ : s_.size()); }

 private:
  const std::string& s_;
  size_t i_ = 0;
};

bool valid_fields(int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s) {
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 &&
         s >= 0 && s <= 60;
}

std::optional<int64_t> compose(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s,
                               int64_t frac_ns, int64_t offset_s) {
  if (!valid_fields(mo, d, h, mi, s)) return std::nullopt;
  const int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const int64_t secs = days * 86400 + h * 3600 + mi * 60 + s - offset_s;
  return secs * 1000000000LL + frac_ns;
}

// Parses "HH:MM[:SS[.fff]]" into the out-parameters.
bool clock_time(Cursor& c, int64_t& h, int64_t& mi, int64_t& s, int64_t& frac) {
  s = 0;
  frac = 0;
  if (!c.number(2, h) || !c.accept(':') || !c.number(2, mi)) return false;
  if (c.accept(':')) {
    if (!c.number(2, s) || !c.fraction(frac)) return false;
  }
  return true;
}

// "Z", "UTC", "(UTC)", "+HH:MM", "+HHMM", "-HH" or nothing.
bool zone_offset(Cursor& c, int64_t& offset_s) {
  offset_s = 0;
  c.skip_spaces();
  if (c.done()) return true;
  const std::string rest = c.rest();
  if (rest == "Z" || rest == "UTC" || rest == "(UTC)" || rest == "GMT") return true;
  const char sign = c.peek();
  if (sign != '+' && sign != '-') return false;
  c.accept(sign);
  int64_t hh = 0, mm = 0;
  if (!c.number(2, hh)) return false;
  c.accept(':');
  if (!c.done() && !c.number(2, mm)) return false;
  if (!c.done() || hh > 23 || mm > 59) return false;
  offset_s = (hh * 3600 + mm * 60) * (sign == '-' ? -1 : 1);
  return true;
}

std::string trim(const std::string& text) {
  size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && (std::isspace(static_cast<unsigned char>(text[e - 1])) || text[e - 1] == '\0')) --e;
  return text.substr(b, e - b);
}

}  // namespace

std::optional<int64_t> parse_iso8601_ns(const std::string& raw) {
  const std::string text = trim(raw);
  Cursor c(text);
  int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, frac = 0, offset = 0;
  if (!c.number(4, y) || !c.accept('-') || !c.number(2, mo) || !c.accept('-') || !c.number(2, d))
    return std::nullopt;
  if (c.accept('T') || c.accept(' ')) {
    if (!clock_time(c, h, mi, s, frac)) return std::nullopt;
  }
  if (!zone_offset(c, offset)) return std::nullopt;
  return compose(y, mo, d, h, mi, s, frac, offset);
}

std::optional<int64_t> parse_day_first_ns(const std::string& raw) {
  const std::string text = trim(raw);
  Cursor c(text);
  int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, frac = 0, offset = 0;
  const char sep = text.size() > 2 ? text[2] : '\0';
  if (sep != '/' && sep != '-' && sep != '.') return std::nullopt;
  if (!c.number(2, d) || !c.accept(sep) || !c.number(2, mo) || !c.accept(sep) || !c.number(4, y))
    return std::nullopt;
  if (c.accept(' ') || c.accept('T')) {
    c.skip_spaces();
    if (!clock_time(c, h, mi, s, frac)) return std::nullopt;
  }
  if (!zone_offset(c, offset)) return std::nullopt;
  return compose(y, mo, d, h, mi, s, frac, offset);
}

std::optional<int64_t> parse_time_ns(const std::string& text) {
  if (auto iso = parse_iso8601_ns(text)) return iso;
  return parse_day_first_ns(text);
}

int64_t seconds_to_ns(double seconds) {
  const double whole = std::floor(seconds);
  // A double near 1.7e9 s resolves ~0.2 us: round to whole microseconds, not to noise.
  const int64_t frac_us = std::llround((seconds - whole) * 1e6);
  return static_cast<int64_t>(whole) * 1000000000LL + frac_us * 1000;
}

std::string format_iso8601_ns(int64_t ns, IsoStyle style) {
  int64_t secs = ns / 1000000000LL;
  int64_t frac = ns % 1000000000LL;
  if (frac < 0) {
    frac += 1000000000LL;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld", static_cast<long long>(y), m,
                d, static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60));
  std::string out = buf;
  if (style == IsoStyle::prodml) {
    char fbuf[24];
    std::snprintf(fbuf, sizeof fbuf, ".%06lld+00:00", static_cast<long long>(frac / 1000));
    return out + fbuf;
  }
  if (frac != 0) {
    char fbuf[16];
    std::snprintf(fbuf, sizeof fbuf, ".%09lld", static_cast<long long>(frac));
    std::string f = fbuf;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

}  // namespace dasnet
