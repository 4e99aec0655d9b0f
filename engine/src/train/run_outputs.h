// Internal: what run_titanic does with a finished model (its validation and test predictions) and
// the files it writes at the end: submission, probabilities, metrics, summary.json, report.html.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "baselines.h"
#include "keel/config.h"
#include "keel/train/run.h"
#include "keel/train/trainer.h"
#include "run_plan.h"

namespace keel::train::detail {

// Adds a finished member's history, timing and validation predictions to the results.
void record_member(Results& results, Trainer& trainer, const Member& member,
                   const LabelledImages& valid, const PreparedData& data);

// submission.csv (argmax of the averaged test probabilities) and probabilities.csv.
void write_submission_files(const Config& config, const RunOptions& options, const PreparedData& data,
                            const Results& results);

RunResult write_outputs(const Config& config, const RunOptions& options, const PreparedData& data,
                        const Results& results, const BaselineScores& baselines,
                        const std::vector<std::string>& layer_table, int64_t parameter_count,
                        const std::string& device,
                        const std::function<void(const std::string&)>& log);

}  // namespace keel::train::detail
