DROP TABLE deploy_meter_marks;
DROP TABLE deploy_builds;
DROP TABLE deploy_releases;
DROP TABLE deploy_apps;
DROP TABLE deploy_placements;
DROP TABLE deploy_cluster_grants;
DROP TABLE deploy_clusters;
