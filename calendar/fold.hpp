// Content-line folding for iCalendar text (RFC 5545 3.1).
#pragma once

#include <string>
#include <string_view>

namespace dutyd {

// Unfolds `text` (CRLF + space/tab removed) and folds it again so that every line is at most
// 75 octets, ends in CRLF and no fold splits a UTF-8 sequence.
//
// Why not trust libical's folding: libical 3.0.16 folds inside the line terminator when a
// value ends exactly at its fold width, emitting "\r\r\n \n" (seen with Chinese SUMMARYs),
// which leaves a bare LF in the feed. Unfolding turns that sequence back into a plain CRLF.
std::string refold_ical(std::string_view text);

}  // namespace dutyd
