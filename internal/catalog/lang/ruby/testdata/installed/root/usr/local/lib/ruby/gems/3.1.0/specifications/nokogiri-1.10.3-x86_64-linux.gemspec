# -*- encoding: utf-8 -*-
# stub: nokogiri 1.10.3 x86_64-linux lib

Gem::Specification.new do |spec|
  spec.name = 'nokogiri'
  spec.version = Gem::Version.new("1.10.3")
  spec.platform = "x86_64-linux".freeze
  spec.license = "MIT"
end
