// Module's shared behaviour: parameter listing, mode, device moves and settings that apply to a
// whole subtree, all built on the visit_* hooks each layer implements.
#include "keel/nn/module.h"

namespace keel::nn {

std::vector<Parameter*> Module::parameters() {
  std::vector<Parameter*> out;
  visit_parameters("", [&](const std::string&, Parameter& p) { out.push_back(&p); });
  return out;
}

int64_t Module::parameter_count() {
  int64_t count = 0;
  for (Parameter* p : parameters()) count += p->value.numel();
  return count;
}

void Module::set_training(bool on) {
  training_ = on;
  visit_children([on](Module& child) { child.set_training(on); });
}

void Module::set_precision(Precision precision) {
  precision_ = precision;
  visit_children([precision](Module& child) { child.set_precision(precision); });
}

void Module::to(Device device) {
  // Children first: a container's own visitors also reach its children's tensors.
  visit_children([device](Module& child) { child.to(device); });
  auto move = [device](Tensor& t) {
    if (t.defined() && t.device() != device) t = t.to(device);
  };
  visit_parameters("", [&](const std::string&, Parameter& p) {
    move(p.value);
    move(p.grad);
  });
  visit_buffers("", [&](const std::string&, Tensor& b) { move(b); });
  on_device_change(device);
}

void Module::set_group(int group) {
  visit_parameters("", [group](const std::string&, Parameter& p) { p.group = group; });
}

void Module::release_views() {
  drop_views();
  visit_children([](Module& child) { child.release_views(); });
}

void Module::set_generator(Generator* gen) {
  generator_ = gen;
  visit_children([gen](Module& child) { child.set_generator(gen); });
}

}  // namespace keel::nn
