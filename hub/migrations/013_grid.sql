-- The shared grid hierarchy (docs/grid.md). Everything here is derived
-- from source_row and the configured crosswalks by gh_grid_refresh, inside
-- the batch transaction that changed them: it can always be rebuilt.

-- The departments' crosswalks as the hub was configured with them
-- (grid.crosswalks): each department's own unit code -> reference grid
-- code. A unit listed with two reference codes spans two grids.
CREATE TABLE grid_crosswalk (
    department text NOT NULL,
    own_code   text NOT NULL,
    ref_code   text NOT NULL,
    origin     text NOT NULL, -- file:line
    PRIMARY KEY (department, own_code, ref_code)
);

-- Every department's division, unit by unit, and where it sits in the
-- reference division (NULL: nowhere, see grid_issue).
CREATE TABLE grid_unit (
    department  text NOT NULL,
    code        text NOT NULL,
    name        text,
    level       text,
    parent_code text,
    ref_code    text,
    PRIMARY KEY (department, code)
);

-- The reference division (grid.reference.department, 综治 by default):
-- city -> district -> sub-district -> community -> grid, with the path
-- from the top.
CREATE TABLE grid (
    code        text PRIMARY KEY,
    name        text,
    level       text,
    parent_code text,
    depth       integer NOT NULL,
    path        text[]  NOT NULL, -- codes from the top, this one last
    path_names  text[]  NOT NULL
);

-- The staff of each reference grid ("1+1+N": a grid leader, a full-time
-- member, part-time members; liaisons; cadres sent down by 组织部), from
-- every department's grid_staff rows. person_id is resolved when read
-- (grid_roster), so a link follows identity resolution.
CREATE TABLE grid_staff_member (
    department   text NOT NULL,
    source_key   text NOT NULL,
    grid_code    text,
    role         text,
    name         text,
    organization text,
    id_key       bigint NOT NULL,
    PRIMARY KEY (department, source_key)
);
CREATE INDEX grid_staff_member_grid ON grid_staff_member (grid_code);

CREATE VIEW grid_roster AS
SELECT m.*, (SELECT sp.person_id FROM person_block b
             JOIN source_person sp ON sp.rec_id = b.rec_id
             WHERE b.block_key = m.id_key AND NOT sp.deleted
               AND sp.person_id IS NOT NULL
             GROUP BY sp.person_id ORDER BY count(*) DESC, sp.person_id
             LIMIT 1) AS person_id
FROM grid_staff_member m;

-- What stewards must look at instead of the hub guessing: a unit no
-- crosswalk knows, a unit that maps to two grids, a crosswalk naming a
-- grid the reference lacks, a reference grid whose parent is missing,
-- staff placed in no known grid.
CREATE TABLE grid_issue (
    kind       text NOT NULL,
    department text NOT NULL,
    code       text NOT NULL,
    detail     text NOT NULL,
    PRIMARY KEY (kind, department, code)
);
