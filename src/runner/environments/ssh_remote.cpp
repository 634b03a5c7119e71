#include "runner/environments/ssh_remote.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <random>

#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"

namespace joulebench::runner::ssh {

namespace {

constexpr std::string_view kTag = "@joulebench-ssh:";
constexpr std::size_t kPreambleTextBytes = 4096;
constexpr std::size_t kMaxEndLineBytes = 64;

bool valid_variable_name(std::string_view name) {
    if (name.empty() || (std::isalpha(static_cast<unsigned char>(name[0])) == 0 && name[0] != '_'))
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
    });
}

}  // namespace

std::string shell_quote(std::string_view word) {
    std::string out;
    out.reserve(word.size() + 2);
    out += '\'';
    for (const char c : word) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    out += '\'';
    return out;
}

std::string shell_join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty()) out += ' ';
        out += shell_quote(w);
    }
    return out;
}

std::string make_nonce() {
    std::random_device device;
    std::string out;
    for (int i = 0; i < 4; ++i) out += fmt::format("{:08x}", device());
    return out;
}

std::string start_line(std::string_view nonce) {
    return fmt::format("{}{}:start", kTag, nonce);
}

std::string end_line_prefix(std::string_view nonce) {
    return fmt::format("{}{}:end:", kTag, nonce);
}

std::vector<std::string> measure_words(const RemoteRun& run) {
    if (run.command.empty()) {
        throw Error(ErrorCategory::kInvalidArgument, "ssh: build the remote command: no command");
    }
    std::vector<std::string> words{"env"};
    for (const auto& [name, value] : run.env) {
        // `env` takes the first word without '=' as the command: a name must not hide one.
        if (!valid_variable_name(name)) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("ssh: build the remote command: '{}' is not a valid "
                                    "environment variable name",
                                    name));
        }
        words.push_back(name + "=" + value);
    }
    words.push_back(run.remote_joulebench);
    words.emplace_back("measure");
    words.emplace_back("-q");
    if (run.interval.count() < 1) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("ssh: build the remote command: trace interval {} ms is under 1 ms",
                                run.interval.count()));
    }
    words.emplace_back("--interval");
    words.push_back(std::to_string(run.interval.count()));
    if (run.gpu) {
        words.emplace_back("--gpus");
        words.push_back(std::to_string(*run.gpu));
    }
    if (run.gpu_cap_w) {
        words.emplace_back("--power-cap");
        words.push_back(format_watts(*run.gpu_cap_w));
    }
    if (run.cpu_cap_w) {
        words.emplace_back("--cpu-power-cap");
        words.push_back(format_watts(*run.cpu_cap_w));
    }
    words.emplace_back("--");
    words.insert(words.end(), run.command.begin(), run.command.end());
    return words;
}

std::string remote_script(const RemoteRun& run) {
    const std::vector<std::string> words = measure_words(run);
    // words: env, K=V..., remote_joulebench, measure, ...: --json "$f" goes right after measure.
    const std::size_t measure_at = 2 + run.env.size();
    std::string measure;
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (i > 0) measure += ' ';
        measure += shell_quote(words[i]);
        if (i == measure_at) measure += " --json \"$f\"";
    }
    const auto grace_s = std::max<long long>(1, (run.kill_grace.count() + 999) / 1000);
    // Written for POSIX sh (dash, bash --posix, busybox). Why each step is there: ssh_remote.hpp.
    std::string s;
    s += "exec 3<&0 </dev/null\n";
    s += "printf '%s\\n' " + shell_quote(start_line(run.nonce)) + "\n";
    s += "rc=125\n";
    s += "n=0\n";
    s += "if f=$(mktemp \"${TMPDIR:-/tmp}/joulebench-ssh.XXXXXXXXXX\"); then\n";
    // Started before the trap below: measure and the workload keep the default dispositions.
    s += "  " + measure + " 3<&- &\n";
    s += "  p=$!\n";
    // This shell and the watcher survive the group-wide SIGTERMs they send.
    s += "  trap '' HUP INT TERM\n";
    s += "  { while read -r _ <&3; do :; done; exec 3<&-; kill -TERM 0; sleep " +
         std::to_string(grace_s) + "; rm -f \"$f\"; kill -KILL 0; } >/dev/null 2>&1 &\n";
    s += "  exec 3<&-\n";
    s += "  wait \"$p\"\n";
    s += "  rc=$?\n";
    // What the workload left behind in the session's group does not outlive the run.
    s += "  kill -TERM 0 2>/dev/null\n";
    s += "  if [ -s \"$f\" ]; then n=$(wc -c <\"$f\"); n=$((n + 0)); fi\n";
    s += "else\n";
    s += "  echo 'joulebench-ssh: cannot create a temporary file in '\"${TMPDIR:-/tmp}\" >&2\n";
    s += "fi\n";
    s += "printf '\\n%s%s:%s\\n' " + shell_quote(end_line_prefix(run.nonce)) + " \"$rc\" \"$n\"\n";
    s += "if [ \"$n\" -gt 0 ]; then cat \"$f\"; fi\n";
    s += "rm -f \"$f\"\n";
    s += "exit \"$rc\"\n";
    return s;
}

std::string remote_command(const RemoteRun& run) {
    return "exec sh -c " + shell_quote(remote_script(run));
}

// ---------------------------------------------------------------------------------------------

OutputDemux::OutputDemux(std::string_view nonce, Sink body, std::size_t max_json_bytes)
    : m_start(start_line(nonce) + "\n"),
      m_end("\n" + end_line_prefix(nonce)),
      m_sink(std::move(body)),
      m_max_json(max_json_bytes) {}

void OutputDemux::body(std::string_view data) {
    if (!data.empty() && m_sink) m_sink(data);
}

void OutputDemux::feed(std::string_view data) {
    while (!data.empty()) {
        switch (m_state) {
            case State::kPreamble: {
                m_pending.append(data);
                data = {};
                const auto at = m_pending.find(m_start);
                if (at == std::string::npos) {
                    // Keep only what could still be the start of the start line.
                    if (m_pending.size() >= m_start.size()) {
                        const std::size_t drop = m_pending.size() - (m_start.size() - 1);
                        if (m_preamble_text.size() < kPreambleTextBytes) {
                            m_preamble_text.append(
                                m_pending, 0,
                                std::min(drop, kPreambleTextBytes - m_preamble_text.size()));
                        }
                        m_preamble_bytes += drop;
                        m_pending.erase(0, drop);
                    }
                    break;
                }
                if (m_preamble_text.size() < kPreambleTextBytes) {
                    m_preamble_text.append(
                        m_pending, 0, std::min(at, kPreambleTextBytes - m_preamble_text.size()));
                }
                m_preamble_bytes += at;
                m_started = true;
                m_state = State::kBody;
                // The rest is fed again from a copy: m_pending is reused as the body hold-back.
                const std::string rest = m_pending.substr(at + m_start.size());
                m_pending.clear();
                feed(rest);
                return;
            }
            case State::kBody: {
                std::string buffer = std::move(m_pending);
                m_pending.clear();
                buffer.append(data);
                data = {};
                const auto at = buffer.find(m_end);
                if (at != std::string::npos) {
                    body(std::string_view(buffer).substr(0, at));
                    m_state = State::kEndLine;
                    const std::string rest = buffer.substr(at + m_end.size());
                    feed(rest);
                    return;
                }
                // Hold back the longest tail that could be the beginning of the end line.
                std::size_t keep = std::min(buffer.size(), m_end.size() - 1);
                while (keep > 0 && std::string_view(buffer).substr(buffer.size() - keep) !=
                                       std::string_view(m_end).substr(0, keep)) {
                    --keep;
                }
                body(std::string_view(buffer).substr(0, buffer.size() - keep));
                m_pending = buffer.substr(buffer.size() - keep);
                break;
            }
            case State::kEndLine: {
                const auto newline = data.find('\n');
                m_pending.append(data.substr(0, newline));
                if (m_pending.size() > kMaxEndLineBytes) {
                    m_error = "the end line of the remote measurement is malformed (too long)";
                    m_state = State::kBroken;
                    break;
                }
                if (newline == std::string_view::npos) {
                    data = {};
                    break;
                }
                data.remove_prefix(newline + 1);
                // "STATUS:LENGTH"
                const std::string line = std::move(m_pending);
                m_pending.clear();
                const auto colon = line.find(':');
                int status = -1;
                unsigned long long length = 0;
                bool ok = colon != std::string::npos;
                if (ok) {
                    const char* b = line.data();
                    const auto r1 = std::from_chars(b, b + colon, status);
                    const auto r2 = std::from_chars(b + colon + 1, b + line.size(), length);
                    ok = r1.ec == std::errc() && r1.ptr == b + colon && r2.ec == std::errc() &&
                         r2.ptr == b + line.size() && status >= 0 && status <= 255;
                }
                if (!ok) {
                    m_error = fmt::format(
                        "the end line of the remote measurement is malformed: '{}'", line);
                    m_state = State::kBroken;
                    break;
                }
                m_status = status;
                m_json_length = static_cast<std::size_t>(length);
                if (m_json_length > m_max_json) {
                    m_error = fmt::format(
                        "the remote measurement announced {} bytes of JSON, more than the {} "
                        "accepted",
                        m_json_length, m_max_json);
                    m_state = State::kBroken;
                    break;
                }
                m_state = m_json_length == 0 ? State::kAfter : State::kJson;
                break;
            }
            case State::kJson: {
                const std::size_t take = std::min(data.size(), m_json_length - m_json.size());
                m_json.append(data.substr(0, take));
                data.remove_prefix(take);
                if (m_json.size() == m_json_length) m_state = State::kAfter;
                break;
            }
            case State::kAfter:
                m_trailing_bytes += data.size();
                body(data);
                data = {};
                break;
            case State::kBroken:
                // Nothing after a broken protocol line can be trusted as a measurement; keep the
                // bytes as output so that nothing is lost.
                body(data);
                data = {};
                break;
        }
    }
}

void OutputDemux::finish() {
    if (m_state == State::kBody) {
        body(m_pending);
        m_pending.clear();
    } else if (m_state == State::kPreamble) {
        if (m_preamble_text.size() < kPreambleTextBytes) {
            m_preamble_text.append(
                m_pending, 0,
                std::min(m_pending.size(), kPreambleTextBytes - m_preamble_text.size()));
        }
        m_preamble_bytes += m_pending.size();
        m_pending.clear();
    }
}

}  // namespace joulebench::runner::ssh
