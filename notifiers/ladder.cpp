#include "notifiers/ladder.hpp"

#include <array>
#include <limits>
#include <stdexcept>

namespace dutyd::notify {

std::vector<StepSchedule> schedule_steps(const Ladder& ladder, Day due, Day window_start,
                                         const ScheduleContext& ctx) {
  std::vector<StepSchedule> out;
  out.reserve(ladder.steps.size());
  for (std::size_t i = 0; i < ladder.steps.size(); ++i) {
    const EscalationStep& s = ladder.steps[i];
    const Day anchor = s.from == Anchor::due ? due : window_start;
    StepSchedule r;
    r.step = i;
    r.nominal_day = s.at.unit == OffsetUnit::calendar_days
                        ? anchor + s.at.amount
                        : ctx.calendar.add_working_days(anchor, s.at.amount);
    r.overdue = r.nominal_day > due;
    const LocalTime nominal{r.nominal_day, ladder.send_at_second};
    LocalTime at = nominal;
    if (!r.overdue || ladder.overdue == OverduePolicy::working_hours)
      at = next_working_time(ctx.calendar, nominal, ctx.quiet);
    else if (ladder.overdue == OverduePolicy::quiet_hours_only)
      at = next_unquiet_time(nominal, ctx.quiet);
    r.deferred = !(at == nominal);
    r.send_at = to_unix(at, ctx.utc_offset_seconds);
    out.push_back(r);
  }
  return out;
}

}  // namespace dutyd::notify
