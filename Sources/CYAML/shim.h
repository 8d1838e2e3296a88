// The system libyaml (Debian: libyaml-dev, found through pkg-config as yaml-0.1).
#ifndef RAFTHOST_CYAML_SHIM_H
#define RAFTHOST_CYAML_SHIM_H

#include <yaml.h>

#endif
