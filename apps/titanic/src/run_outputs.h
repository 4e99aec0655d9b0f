// Internal: the files run_titanic writes at the end: submission, probabilities, metrics,
// summary.json, report.html.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "baselines.h"
#include "keel/train/trainer.h"
#include "run_plan.h"
#include "titanic/config.h"
#include "titanic/run.h"

namespace keel::train::detail {

// submission.csv (argmax of the averaged test probabilities) and probabilities.csv.
void write_submission_files(const Config& config, const RunOptions& options,
                            const PreparedData& data, const Results& results);

RunResult write_outputs(const Config& config, const RunOptions& options, const PreparedData& data,
                        const Results& results, const BaselineScores& baselines,
                        const std::vector<std::string>& layer_table, int64_t parameter_count,
                        const std::string& device,
                        const std::function<void(const std::string&)>& log);

}  // namespace keel::train::detail
